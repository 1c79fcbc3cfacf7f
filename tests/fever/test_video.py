"""Videos: frames, timestamps, sampling, tracks, and videos that break or show no face."""

import numpy as np
import pytest

from fever.errors import InputError
from fever.io.video import iter_video_frames, probe_video
from tests.helpers import SAMPLES


def test_probe_and_decode_every_frame(videos):
    info = probe_video(videos / "single_face.mp4")
    assert (info.width, info.height, info.frames, info.codec) == (640, 360, 72, "h264")
    frames = list(iter_video_frames(videos / "single_face.mp4"))
    assert len(frames) == 72 and frames[0].array.shape == (360, 640, 3)
    assert frames[0].timestamp == 0.0 and abs(frames[30].timestamp - 1.0) < 1e-6


def test_hevc_decodes(videos):
    frames = list(iter_video_frames(videos / "face_noface.mov", max_frames=5))
    assert len(frames) == 5 and frames[0].array.shape == (540, 960, 3)


def test_sampling_every_and_fps(videos):
    every = [f.index for f in iter_video_frames(videos / "single_face.mp4", every=10)]
    assert every == [0, 10, 20, 30, 40, 50, 60, 70]
    at5 = list(iter_video_frames(videos / "single_face.mp4", fps=5))  # 30 fps source
    assert [f.index for f in at5] == list(range(0, 72, 6))
    assert np.allclose(np.diff([f.timestamp for f in at5]), 0.2, atol=1e-6)


def test_extract_video_rows_have_frames_timestamps_tracks(extractor, videos):
    out = extractor.extract_video(videos / "single_face.mp4", every=6)
    assert len(out) == 12 and out.ok.all()
    assert [r.frame for r in out.rows] == list(range(0, 72, 6))
    assert {r.track for r in out.rows} == {0}
    assert np.allclose([r.timestamp for r in out.rows], np.arange(0, 72, 6) / 30)
    assert out.vectors.shape == (12, 256) and np.isfinite(out.vectors).all()


def test_two_people_get_two_tracks(extractor, videos):
    out = extractor.extract_video(videos / "short_hamilton_clip.mp4", max_frames=10)
    tracks = {}
    for r in out.rows:
        tracks.setdefault(r.track, []).append((r.box[0] + r.box[2]) / 2)
    assert len(tracks) == 2 and all(len(v) == 10 for v in tracks.values())
    assert sorted(np.mean(v) for v in tracks.values())[0] < 150


def test_video_without_faces_gives_one_no_face_row(extractor, videos):
    out = extractor.extract_video(videos / "no_face.mp4", every=10)
    assert len(out) == 1 and out.rows[0].status == "no_face"
    assert "no_face.mp4: no face in 10 sampled frames" in out.rows[0].error


def test_corrupt_video(extractor, tmp_path, videos):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    with pytest.raises(InputError, match=r"junk\.mp4: cannot open as a video"):
        next(iter_video_frames(junk))
    out = extractor.extract_video(junk)
    assert out.rows[0].status == "error" and "junk.mp4: cannot open as a video" in out.rows[0].error


def test_truncated_video_is_an_error_row(extractor, tmp_path, videos):
    data = (videos / "single_face.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) sits at the end: nothing is decodable
    out = extractor.extract_video(cut, every=6)
    assert [r.status for r in out.rows] == ["error"]
    assert "cut.mp4: cannot open as a video (InvalidDataError" in out.rows[0].error


def test_refine_follows_faces_like_full_detection(videos):
    """O-Net refinement of frame 0's faces, carried through 10 frames, lands where MTCNN finds them."""
    from fever.detect import FaceDetector

    detector = FaceDetector()
    frames = [f.array for f in iter_video_frames(videos / "short_hamilton_clip.mp4", max_frames=11)]
    full = detector.detect(frames)
    followed = full[0]
    for frame in frames[1:]:
        followed = [d for d in detector.refine(frame, [p.box for p in followed]) if d is not None]
    assert len(followed) == len(full[10]) == 2
    for d in followed:
        nearest = min(full[10], key=lambda f: np.abs(f.box - d.box).sum())
        assert np.abs(nearest.box - d.box).max() < 6  # pixels, on faces 25-60 px wide
        assert np.abs(nearest.landmarks - d.landmarks).max() < 6
        assert d.score > 0.9


def test_refine_drops_a_face_that_is_gone(videos):
    from fever.detect import FaceDetector

    detector = FaceDetector()
    face = next(iter_video_frames(videos / "single_face.mp4")).array
    empty = next(iter_video_frames(videos / "no_face.mp4")).array[:360, :640]
    box = detector.detect([face])[0][0].box
    assert detector.refine(face, [box])[0] is not None
    assert detector.refine(empty, [box]) == [None]
    assert detector.refine(face, []) == []


def test_detect_every_keeps_rows_and_tracks(extractor, videos, capsys):
    full = extractor.extract_video(videos / "short_hamilton_clip.mp4", max_frames=12)
    fast = extractor.extract_video(videos / "short_hamilton_clip.mp4", max_frames=12, detect_every=4, batch_size=5)
    by_key_full = {(r.frame, r.track): r.box for r in full.rows}
    by_key_fast = {(r.frame, r.track): r.box for r in fast.rows}
    assert len(fast) == len(full) == 24 and set(by_key_fast) == set(by_key_full)
    assert max(np.abs(by_key_full[k] - by_key_fast[k]).max() for k in by_key_full) < 8
    for key in [(0, 0), (0, 1), (4, 0), (8, 1)]:  # detection frames give MTCNN's own boxes
        assert np.allclose(by_key_full[key], by_key_fast[key])
    with pytest.raises(ValueError, match="detect_every must be 1 or more"):
        extractor.extract_video(videos / "single_face.mp4", detect_every=0)


def test_timestamps_start_at_zero_and_sampling_options_are_checked(videos):
    from fever.errors import UsageError
    from fever.io.video import check_video_options

    frames = list(iter_video_frames(videos / "single_face.mp4", max_frames=3))
    assert frames[0].timestamp == 0.0 and 0 < frames[1].timestamp < 0.1  # the container's offset is gone
    assert len(list(iter_video_frames(videos / "single_face.mp4", max_frames=1))) == 1
    for bad, message in [
        ({"fps": float("inf")}, "fps must be a number above 0"),
        ({"fps": float("nan")}, "fps must be a number above 0"),
        ({"fps": 1e12}, "at most 1000"),
        ({"fps": 0.0}, "fps must"),
        ({"every": 0}, "every must be a whole number >= 1"),
        ({"max_frames": 0}, "max_frames must be a whole number >= 1"),
    ]:
        with pytest.raises(UsageError, match=message):
            check_video_options(**bad)
        with pytest.raises(UsageError, match=message):  # the decoder checks before opening anything
            next(iter_video_frames(videos / "single_face.mp4", **bad))


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--fps", "inf", "--fps must be a number above 0"),
        ("--every", "0", "--every must be a whole number"),
        ("--max-frames", "0", "--max-frames must be a whole number"),
        ("--detect-every", "0", "--detect-every must be 1 or more"),
        ("--track-similarity", "1.5", "--track-similarity must be in [0, 1]"),
        ("--track-similarity", "nan", "--track-similarity must be in [0, 1]"),
    ],
)
def test_embed_refuses_bad_video_options_before_any_work(tmp_path, capsys, option, value, message):
    from fever.cli.embed import main

    out = tmp_path / "v.parquet"
    assert main([str(SAMPLES), "--out", str(out), option, value, "--no-progress"]) == 1
    assert f"fever-embed: error: {message}" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "v.parquet.parts").exists()


def test_no_track_spans_a_shot_change_and_false_faces_are_dropped(extractor, videos):
    """short_hamilton_clip.mp4 cuts at frames 20, 82 and 211 (the performer of 82-210 must not become
    an audience member at 211); its 1-3 frame tracks are hair, a hand and dark background."""
    from collections import defaultdict

    from fever.shots import ShotDetector

    clip = videos / "short_hamilton_clip.mp4"
    shots = ShotDetector()
    cuts = [f.index for f in iter_video_frames(clip, max_frames=230) if shots.is_cut(f.array)]
    assert cuts == [20, 82, 211]
    out = extractor.extract_video(clip, max_frames=230, detect_every=3)
    frames = defaultdict(list)
    for r in out.rows:
        frames[r.track].append(r.frame)
    shot_of = lambda f: sum(f >= c for c in cuts)  # noqa: E731
    for track, seen in frames.items():
        assert len({shot_of(f) for f in seen}) == 1, f"track {track} spans a cut: frames {min(seen)}-{max(seen)}"
        assert len(seen) >= 5, f"track {track} has {len(seen)} frames"
    assert any(min(s) == 82 and max(s) == 210 for s in frames.values())  # the performer, alone
    assert sum(min(s) == 211 for s in frames.values()) >= 2  # the audience, found at the cut
    everything = extractor.extract_video(clip, max_frames=230, detect_every=3, min_track_frames=1)
    assert len(everything) > len(out)  # the short tracks were there


def test_frames_are_batched_by_pixels_and_oversized_videos_refused(videos, extractor, monkeypatch):
    from types import SimpleNamespace

    from fever import limits
    from fever.extractor import frame_batches

    def frames(*shapes):
        return [SimpleNamespace(array=np.zeros(s, np.uint8)) for s in shapes]

    sd, uhd = (360, 640, 3), (2160, 3840, 3)
    sizes = [len(b) for b in frame_batches(frames(*[sd] * 70), 64)]
    assert sizes == [64, 6]  # small frames: the count decides
    sizes = [len(b) for b in frame_batches(frames(*[uhd] * 5), 64)]
    assert sizes == [1, 1, 1, 1, 1]  # 4K frames: 8.3 MP each, 14.7 MP in flight
    assert [len(b) for b in frame_batches(frames(sd, sd, uhd, sd), 64, max_pixels=700_000)] == [2, 1, 1]
    monkeypatch.setattr(limits, "MAX_FRAME_PIXELS", 100_000)  # single_face.mp4 is 640x360 = 230,400
    with pytest.raises(InputError, match="video frames are 640x360 = 230,400 pixels, over the limit of 100,000"):
        next(iter_video_frames(videos / "single_face.mp4"))
    out = extractor.extract_video(videos / "single_face.mp4")
    assert (
        len(out) == 1 and out.rows[0].status == "error" and "raise fever.limits.MAX_FRAME_PIXELS" in out.rows[0].error
    )


def test_phone_videos_are_turned_upright_as_their_display_matrix_asks(tmp_path, extractor):
    """Issue 26.2: a portrait clip stored as landscape frames with a 90-degree display matrix was
    embedded sideways (cosine 0.38-0.57 to the upright clip) with no note."""
    from PIL import Image

    from tests.helpers import write_video

    photo = Image.open(SAMPLES / "pexels_wolfganglanger_face.jpg").convert("RGB")
    face = np.asarray(photo.crop((280, 0, 600, 360)).resize((256, 288)))  # a portrait frame
    upright = write_video(tmp_path / "upright.mp4", [face] * 3)
    for degrees, stored in ((90, np.rot90(face, -1)), (-90, np.rot90(face, 1)), (180, np.rot90(face, 2))):
        phone = write_video(tmp_path / f"phone{degrees}.mp4", [stored] * 3, rotation=degrees)
        frames = list(iter_video_frames(phone))
        assert frames[0].array.shape == face.shape and frames[0].rotation == degrees % 360
        assert np.abs(frames[0].array.astype(int) - face).mean() < 4  # upright again (H.264 losses only)
        a = extractor.extract_video(upright, min_track_frames=1)
        b = extractor.extract_video(phone, min_track_frames=1)
        assert [r.status for r in b.rows] == ["ok"] * 3
        cos = (a.vectors * b.vectors).sum(1) / np.linalg.norm(a.vectors, axis=1) / np.linalg.norm(b.vectors, axis=1)
        assert cos.min() > 0.98
        assert (
            b.rows[0].note
            == f"frame turned {degrees % 360} degrees counter-clockwise, as the video's display matrix asks"
        )
        assert a.rows[0].note is None


def test_frames_larger_than_the_header_said_are_refused_before_conversion(tmp_path, monkeypatch, extractor):
    """Issue 26.12: a header of 64x48 followed by 640x480 frames (a 9000x9000 frame in the wild)
    was decoded and detected; every frame's own size is now checked."""
    from fever import limits
    from tests.helpers import write_growing_mjpeg

    clip = write_growing_mjpeg(tmp_path / "grows.mkv", [(64, 48), (64, 48), (640, 480)])
    monkeypatch.setattr(limits, "MAX_FRAME_PIXELS", 100_000)
    frames = iter_video_frames(clip)
    assert [f.array.shape for f in (next(frames), next(frames))] == [(48, 64, 3)] * 2
    with pytest.raises(
        InputError, match=r"frame 2 is 640x480 = 307,200 pixels \(the stream said 64x48\), over the limit"
    ):
        next(frames)
    out = extractor.extract_video(clip)
    assert out.rows[-1].status == "error" and "frame 2 is 640x480" in out.rows[-1].error
