"""Which face an image is about: the biggest one."""

import numpy as np

from fever.detect import Detection, box_area, main_face


def test_main_face_is_the_biggest_not_the_most_confident():
    small_sure = Detection(np.array([0, 0, 10, 10], np.float32), 0.999, np.zeros((5, 2)))
    big_less_sure = Detection(np.array([20, 20, 80, 90], np.float32), 0.93, np.zeros((5, 2)))
    assert box_area(big_less_sure.box) == 60 * 70 and box_area([5, 5, 1, 1]) == 0
    assert main_face([small_sure, big_less_sure]) is big_less_sure
    assert main_face([]) is None


def test_boxes_are_clipped_to_the_image(extractor, two_face_photo):
    """A face cut by the border keeps a box inside the picture (its vector still comes from
    MTCNN's own box, so the crop does not change)."""
    from PIL import Image

    from fever.detect import clip_box

    assert clip_box(np.array([-5, 10, 130, 90]), (80, 120, 3)).tolist() == [0, 10, 120, 80]
    photo = np.asarray(Image.open(two_face_photo).convert("RGB"))
    full = extractor.extract([photo], faces="detect")
    x1 = int(full.rows[0].box[0] + (full.rows[0].box[2] - full.rows[0].box[0]) * 0.1)
    cut = np.ascontiguousarray(photo[:, x1:])  # the border runs through the first face
    rows = extractor.extract([cut], faces="detect").rows
    h, w = cut.shape[:2]
    assert rows and all(r.status == "ok" for r in rows)
    for r in rows:
        assert 0 <= r.box[0] <= r.box[2] <= w and 0 <= r.box[1] <= r.box[3] <= h
    assert min(r.box[0] for r in rows) == 0  # the cut face reached past the border


def test_images_too_small_for_the_pyramid_give_no_face_not_a_crash(extractor, two_face_photo):
    """A 200x17 banner among photos: MTCNN builds no pyramid level for it; the batch goes on."""
    from PIL import Image

    photo = np.asarray(Image.open(two_face_photo).convert("RGB"))
    for banner in (np.full((17, 200, 3), 128, np.uint8), np.full((19, 48, 3), 128, np.uint8)):
        out = extractor.extract([banner, photo], faces="detect")
        assert out.rows[0].status == "no_face" and [r.status for r in out.rows[1:]] == ["ok", "ok"]


def _same_size_photos() -> list[np.ndarray]:
    """Eight different 320x240 pictures cut and scaled from the two bundled photos (real faces)."""
    from PIL import Image

    from tests.helpers import SAMPLES

    photos = [
        Image.open(SAMPLES / n).convert("RGB") for n in ("hamilton_two_faces.jpg", "pexels_wolfganglanger_face.jpg")
    ]
    out = []
    for k in range(8):
        img = photos[k % 2]
        w, h = img.size
        f = 0.7 + 0.04 * k  # a different window of each photo
        box = (int(w * (1 - f) / 2), int(h * (1 - f) / 3), int(w * (1 + f) / 2), int(h * (1 + 2 * f) / 3))
        pic = img.crop(box).resize((320, 240))
        out.append(np.asarray(pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if k % 4 >= 2 else pic))
    return out


def test_detection_and_vectors_do_not_depend_on_the_batch(extractor):
    """Issue 26.1: facenet-pytorch's batched MTCNN moved boxes by up to 20 px with the batch's other
    images; every image is now detected alone, so batch 8 and batch 1 give the same rows."""
    from fever.detect import FaceDetector

    photos = _same_size_photos()
    detector = FaceDetector()
    together = detector.detect(photos)
    alone = [detector.detect([p])[0] for p in photos]
    assert sum(len(d) for d in together) >= 8
    for a, b in zip(together, alone):
        assert [d.box.tolist() for d in a] == [d.box.tolist() for d in b]
        assert [d.landmarks.tolist() for d in a] == [d.landmarks.tolist() for d in b]
    big = extractor.extract(photos, faces="detect", batch_size=8)
    small = extractor.extract(photos, faces="detect", batch_size=1)

    def rows(out):
        return [(r.input_index, r.status, None if r.box is None else r.box.tolist()) for r in out.rows]

    assert rows(big) == rows(small)
    np.testing.assert_allclose(big.vectors, small.vectors, atol=1e-5)
