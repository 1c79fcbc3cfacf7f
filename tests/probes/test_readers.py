"""Annotation readers on small files written here in each dataset's real format."""

import json

import numpy as np
import pytest

from probes.base import ProbeError
from probes.readers import read_afew_va, read_affwild2_expressions, read_gold_standard


def test_afew_va_json(tmp_path):
    frames = {
        f"{i:05d}": {"valence": v, "arousal": a, "landmarks": [[float(i), float(j)] for j in range(68)]}
        for i, (v, a) in enumerate([(10, -10), (5, 0), (-2, 3)])
    }
    p = tmp_path / "001.json"
    p.write_text(json.dumps({"actor": "x", "video_id": "001", "frames": frames}))
    va = read_afew_va(p)
    assert va.frames.tolist() == [0, 1, 2]
    assert np.allclose(va.values, [[1.0, -1.0], [0.5, 0.0], [-0.2, 0.3]])
    assert va.landmarks.shape == (3, 68, 2) and va.landmarks[2, 5].tolist() == [2.0, 5.0]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ProbeError, match=r"bad\.json: not an AFEW-VA annotation file"):
        read_afew_va(bad)


def test_affwild2_expression_txt(tmp_path):
    p = tmp_path / "video1.txt"
    p.write_text("Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n0\n4\n-1\n7\n")
    classes, labels = read_affwild2_expressions(p)
    assert classes[4] == "Happiness" and labels.tolist() == [0, 4, -1, 7]
    p.write_text("Neutral,Anger\n0\n9\n")
    with pytest.raises(ProbeError, match="labels must be -1 or 0..1"):
        read_affwild2_expressions(p)


def test_recola_csv_and_arff(tmp_path):
    csv_file = tmp_path / "dev_1.csv"
    csv_file.write_text("time;GoldStandard\n0.00;0.1\n0.04;0.2\n0.08;-0.05\n")
    t, v = read_gold_standard(csv_file)
    assert t.tolist() == pytest.approx([0, 0.04, 0.08]) and v.tolist() == pytest.approx([0.1, 0.2, -0.05])
    arff = tmp_path / "train_1.arff"
    arff.write_text(
        "@relation GOLDSTANDARD\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        "@attribute GoldStandard numeric\n@data\n'train_1',0.00,0.3\n'train_1',0.04,0.25\n"
    )
    t, v = read_gold_standard(arff)
    assert t.tolist() == pytest.approx([0, 0.04]) and v.tolist() == pytest.approx([0.3, 0.25])
    empty = tmp_path / "e.csv"
    empty.write_text("time,value\n")
    with pytest.raises(ProbeError, match="no \\(time, value\\) rows"):
        read_gold_standard(empty)
