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
    y_test[:5] = -1  # rows without a label are left out
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
    assert ((np.minimum(far1, far2) - close) >= 0.3 - 1e-6).all()  # the documented rule holds for each


def test_table_format():
    row = {
        "model": "m",
        "ferplus_accuracy": 0.5,
        "ferplus_official_accuracy": 0.6,
        "fer2013_accuracy": 0.25,
        "triplet_accuracy": 0.75,
        "ferplus_accuracy_paper_probe": 0.3,
        "fer2013_accuracy_paper_probe": 0.2,
        "triplet_accuracy_similarity_head": 0.7,
        "split": "valid",
    }
    lines = format_table([row]).splitlines()
    assert lines[0].startswith("| features (FER+ valid) | FER+ (8 cl., unweighted) | FER+ official majority |")
    assert lines[2] == "| m | 50.00% | 60.00% | 25.00% | 75.00% | 30.00% | 20.00% | 70.00% |"
    # runs that share a model name are told apart by the folder they were loaded from
    assert format_table([{**row, "source": "runs/a/best"}]).splitlines()[2].startswith("| runs/a/best | 50.00% |")
    # baselines have no paper-probe or head figures: shown as '-'
    base = {k: v for k, v in row.items() if "paper" not in k and "head" not in k}
    assert format_table([base]).splitlines()[2] == "| m | 50.00% | 60.00% | 25.00% | 75.00% | - | - | - |"


def test_official_majority_protocol_known_answers():
    from distill.ferplus import FerPlusSplit

    votes = np.array(
        [
            [6, 4, 0, 0, 0, 0, 0, 0, 0, 0],  # 6 > 5: neutral
            [5, 3, 1, 1, 0, 0, 0, 0, 0, 0],  # single votes dropped: 5 of 8 > half -> neutral
            [4, 3, 3, 0, 0, 0, 0, 0, 0, 0],  # 4 of 10 is not more than half -> excluded
            [2, 0, 0, 0, 0, 0, 0, 0, 8, 0],  # unknown wins -> excluded
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # every vote single -> nothing left, excluded
            [0, 0, 0, 0, 0, 0, 0, 3, 0, 2],
        ]
    )  # contempt 3 of 5 -> contempt
    split = FerPlusSplit(np.array(list("abcdef")), np.zeros((6, 48, 48), np.uint8), votes, np.full(6, -1))
    assert split.official_majority.tolist() == [0, 0, -1, -1, -1, 7]
    # our rule keeps the plurality of row 3 where the official one drops it
    assert split.majority.tolist()[:3] == [0, 0, 0]


def test_official_majority_on_the_real_test_split(datasets):
    test = load_split(datasets / "ferplus", "test")
    official, ours = test.official_majority, test.majority
    # a stricter rule: fewer faces, and where both label a face they agree
    assert 3000 < (official >= 0).sum() < (ours >= 0).sum()
    both = (official >= 0) & (ours >= 0)
    assert (official[both] == ours[both]).all()


def test_baseline_features_shapes_and_values():
    from distill.baselines import baseline_features

    faces = np.zeros((3, 48, 48), np.uint8)
    faces[1, :, 24:] = 255  # a vertical edge
    raw = baseline_features("raw 48x48 pixels", faces)
    assert raw.shape == (3, 2304) and raw.max() == 1.0 and raw.dtype == np.float32
    hog = baseline_features("HOG", faces)
    assert hog.shape == (3, 900) and hog[0].sum() == 0 and hog[1].sum() > 0
    with pytest.raises(ValueError, match="unknown baseline 'sift'"):
        baseline_features("sift", faces)


@pytest.mark.slow
def test_evaluate_command_on_a_saved_model(tiny_model_dir, datasets, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        distill_main(
            ["evaluate", str(tiny_model_dir), "--data-root", str(datasets), "--json", str(out), "--no-baselines"]
        )
        == 0
    )
    result = json.loads(out.read_text())[0]
    assert result["n_triplets"] == 10000 and result["n_ferplus"] > 3000 and result["split"] == "test"
    assert 0 < result["ferplus_accuracy"] < 1 and result["n_ferplus_official"] < result["n_ferplus"]
    assert result["model"] == "tiny-test-student" and result["source"] == str(tiny_model_dir)
    assert f"| {tiny_model_dir} |" in capsys.readouterr().out


def test_split_vectors_follow_the_extractors_test_time_flips(tiny_model_dir):
    """The evaluation embeds splits as extract() does, flips included (it once ran the bare network)."""
    import numpy as np

    import fever
    from distill.evaluate import split_vectors
    from distill.ferplus import FerPlusSplit

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 48, 48), dtype=np.uint8)
    split = FerPlusSplit(np.array(["a", "b", "c", "d"]), images, np.zeros((4, 10), int), np.full(4, -1))
    mirrored = FerPlusSplit(split.names, np.ascontiguousarray(images[:, :, ::-1]), split.votes, split.fer2013_label)
    plain = fever.Extractor(tiny_model_dir, device="cpu")
    flip = fever.Extractor(tiny_model_dir, device="cpu", tta="flip")
    expected = (split_vectors(plain, split)["embedding"] + split_vectors(plain, mirrored)["embedding"]) / 2
    np.testing.assert_allclose(split_vectors(flip, split)["embedding"], expected, atol=1e-5)
    assert not np.allclose(split_vectors(plain, split)["embedding"], expected, atol=1e-4)


def test_an_ensemble_of_a_model_with_itself_scores_as_the_model(tiny_model_dir, datasets, tmp_path, capsys):
    """Known answer: the mean of identical probabilities has the same arg-max, and joined identical
    vectors rank every triplet as one copy does."""
    out = tmp_path / "ensemble.json"
    argv = ["evaluate-ensemble", str(tiny_model_dir), str(tiny_model_dir), "--data-root", str(datasets)]
    assert distill_main([*argv, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    member, ensemble = result["members"][0], result["ensemble"]
    assert result["split"] == "valid" and result["faces"] > 3000 and len(result["members"]) == 2
    assert 0 < member["accuracy"] < 1 and ensemble["accuracy"] == member["accuracy"]
    assert ensemble["triplet_accuracy"] == pytest.approx(member["triplet_accuracy"], abs=1e-4)
    printed = capsys.readouterr().out
    assert f"| {tiny_model_dir} | tiny-test-student | {member['accuracy']:.2%} |" in printed
    assert f"| **ensemble of 2** | mean probabilities; joined vectors | {member['accuracy']:.2%} |" in printed


def test_an_ensemble_needs_two_models(tiny_model_dir, datasets):
    from distill.ensemble import evaluate_ensemble

    with pytest.raises(ValueError, match="an ensemble needs at least two models, got 1"):
        evaluate_ensemble([tiny_model_dir], datasets)
