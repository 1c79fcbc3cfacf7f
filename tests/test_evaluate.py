"""The paper's linear evaluation: known answers on small data, and the full protocol (slow)."""
import json

import numpy as np
import pytest

from distill.cli import main as distill_main
from distill.evaluate import format_table, linear_probe, load_test_triplets
from distill.ferplus import load_split


def test_linear_probe_known_answers():
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 10
    y = rng.integers(0, 4, 400)
    x = centres[y] + rng.normal(0, 0.5, (400, 4))
    y_test = rng.integers(0, 4, 100)
    x_test = centres[y_test] + rng.normal(0, 0.5, (100, 4))
    y_test[:5] = -1                                 # rows without a label are left out
    r = linear_probe(x, y, x_test, y_test)
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0 and r["n_test"] == 95 and r["n_train"] == 400
    noise = linear_probe(rng.normal(size=(400, 4)), y, rng.normal(size=(100, 4)), rng.integers(0, 4, 100))
    assert noise["accuracy"] < 0.45


def test_frozen_triplets_resolve_in_the_test_split(datasets):
    test = load_split(datasets / "ferplus", "test")
    trip = load_test_triplets(test)
    assert trip.shape == (10000, 3) and len(np.unique(np.sort(trip, axis=1), axis=0)) == 10000
    d = test.distributions
    tv = lambda a, b: 0.5 * np.abs(d[a] - d[b]).sum(1)  # noqa: E731
    close, far1, far2 = tv(trip[:, 0], trip[:, 1]), tv(trip[:, 0], trip[:, 2]), tv(trip[:, 1], trip[:, 2])
    assert ((np.minimum(far1, far2) - close) >= 0.3 - 1e-6).all()   # the documented rule holds for each


def test_table_format():
    row = {"model": "m", "ferplus_test_accuracy": 0.5, "ferplus_test_accuracy_unweighted": 0.6,
           "fer2013_test_accuracy": 0.25, "fer2013_test_accuracy_unweighted": 0.3,
           "ferplus_triplet_accuracy": 0.75, "ferplus_triplet_accuracy_similarity_head": 0.7}
    assert format_table([row]).splitlines()[2] == "| m | 50.00% | 60.00% | 25.00% | 30.00% | 75.00% | 70.00% |"
    # runs that share a model name are told apart by the folder they were loaded from
    assert format_table([{**row, "source": "runs/a/best"}]).splitlines()[2].startswith("| runs/a/best | 50.00% |")


@pytest.mark.slow
def test_evaluate_command_on_a_saved_model(tiny_model_dir, datasets, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert distill_main(["evaluate", str(tiny_model_dir), "--data-root", str(datasets), "--json", str(out)]) == 0
    result = json.loads(out.read_text())[0]
    assert result["n_triplets"] == 10000 and result["n_ferplus_test"] > 3000
    assert 0 < result["ferplus_test_accuracy"] < 1
    assert result["model"] == "tiny-test-student" and result["source"] == str(tiny_model_dir)
    assert f"| {tiny_model_dir} |" in capsys.readouterr().out
