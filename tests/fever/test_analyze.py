"""fever.analyze: boxes, tracks, vectors and expression probabilities from a model folder's probe."""

import numpy as np
import pytest

import fever
from tests.helpers import SAMPLES


def test_analyze_images(model_with_probe, two_face_photo, fer_crops):
    ex = fever.Extractor(model_with_probe, device="cpu")
    out = fever.analyze([fer_crops[0], two_face_photo, np.zeros((300, 300, 3), np.uint8)], model=ex)
    assert out.classes == sorted(p.name.split("_")[1] for p in fer_crops)
    assert out.probabilities.shape == (4, 5)
    assert np.allclose(out.probabilities[:3].sum(1), 1, atol=1e-5) and np.isnan(out.probabilities[3]).all()
    faces = out.faces()
    assert len(faces) == 3 and faces[1]["box"] is not None and faces[1]["vector"].shape == (256,)
    assert faces[0]["expression"] == max(faces[0]["probabilities"], key=faces[0]["probabilities"].get)
    assert out.expressions[3] is None


def test_analyze_video_has_tracks(model_with_probe, videos):
    out = fever.analyze(videos / "single_face.mp4", model=fever.Extractor(model_with_probe, device="cpu"), every=12)
    faces = out.faces()
    assert [f["frame"] for f in faces] == [0, 12, 24, 36, 48, 60] and {f["track"] for f in faces} == {0}


def test_model_without_probe_says_so(tiny_model_dir):
    with pytest.raises(fever.ModelLoadError, match="ships no expression probe"):
        fever.analyze([next(SAMPLES.glob("ferplus_*.png"))], model=fever.Extractor(tiny_model_dir, device="cpu"))
