"""fever-export --probe-accuracy: the FER+ accuracy an exported copy loses."""

import shutil

import pytest

import fever
from tools.export_cli import main as export_main

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    """The command writes both copies and reports their parity (real faces: the bundled samples)."""
    folder = tmp_path_factory.mktemp("exp") / "model"
    shutil.copytree(tiny_model_dir, folder)
    assert (
        export_main(
            [
                "onnx",
                str(folder),
                "--out",
                str(folder / "model.onnx"),
                "--int8",
                str(folder / "int8.onnx"),
                "--data-root",
                "/nonexistent",
                "--faces",
                "64",
            ]
        )
        == 0
    )
    return folder


def test_probe_accuracy_change_scores_every_copy(exported, datasets, tmp_path):
    """The deployed situation on real FER+ rows: a probe fitted on torch fp32 train vectors, scored
    on the test vectors of torch and of each copy (here a 600/300-row subset, to stay fast)."""
    import pyarrow.parquet as pq

    from tools.export_check import probe_accuracy_change

    (tmp_path / "ferplus").mkdir()
    for split, rows in (("train", 600), ("test", 300)):
        pq.write_table(
            pq.read_table(datasets / "ferplus" / f"{split}.parquet").slice(0, rows),
            tmp_path / "ferplus" / f"{split}.parquet",
        )
    ex = fever.Extractor(exported, device="cpu")
    out = probe_accuracy_change(ex, {"onnx": exported / "model.onnx", "int8": exported / "int8.onnx"}, tmp_path)
    assert set(out) == {"torch_fp32", "onnx", "onnx_change_points", "int8", "int8_change_points"}
    assert 0.0 < out["torch_fp32"] <= 1.0
    assert abs(out["onnx_change_points"]) < 0.5  # fp32 ONNX gives the same vectors
    assert out["int8_change_points"] == pytest.approx(100 * (out["int8"] - out["torch_fp32"]))
