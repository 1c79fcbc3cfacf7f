"""Training pieces of DeepFEVER: the triplet rule, the losses, and exact resume."""
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import fever
from distill.config import TrainConfig
from distill.ferplus import FerPlusSplit
from distill.losses import (distillation_target, fec_triplet_loss, rkd_angle_loss, rkd_distance_loss,
                            soft_cross_entropy)
from distill.trainer import Trainer
from distill.triplets import sample_triplets
from probes.metrics import triplet_accuracy


def test_majority_rule_drops_ties_and_unknown():
    votes = np.array([[6, 4, 0, 0, 0, 0, 0, 0, 0, 0],    # neutral
                      [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],    # tie -> no label
                      [1, 0, 0, 0, 0, 0, 0, 0, 9, 0],    # unknown -> no label
                      [0, 0, 0, 0, 0, 0, 0, 3, 0, 0]])   # contempt
    split = FerPlusSplit(np.array(["a", "b", "c", "d"]), np.zeros((4, 48, 48), np.uint8), votes, np.full(4, -1))
    assert split.majority.tolist() == [0, -1, -1, 7]
    assert np.allclose(split.distributions[0], [0.6, 0.4, 0, 0, 0, 0, 0, 0])


def test_triplet_rule_picks_the_closest_pair_and_drops_ambiguous():
    dist = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1.0], [0.5, 0.5, 0], [0.45, 0.55, 0]], np.float32)
    trip = sample_triplets(dist, 300, np.random.default_rng(0), margin=0.3, eligible=np.array([0, 1, 2]))
    # among faces 0, 1, 2 the only unambiguous triplet: 0 and 1 are the pair, 2 the odd one
    assert {tuple(sorted(t[:2])) for t in trip} == {(0, 1)} and set(trip[:, 2]) == {2}
    trip = sample_triplets(dist, 300, np.random.default_rng(0), margin=0.3, eligible=np.array([0, 3, 4]))
    assert {tuple(sorted(t[:2])) for t in trip} == {(3, 4)}


def test_triplet_accuracy_known_answer():
    emb = np.array([[0, 0], [0.1, 0], [5, 5], [0, 0.2]])
    assert triplet_accuracy(emb, np.array([[0, 1, 2], [0, 2, 1], [0, 3, 1]])) == pytest.approx(1 / 3)


def test_fec_triplet_loss_values():
    a = torch.tensor([[1.0, 0.0]])
    assert fec_triplet_loss(a, a, torch.tensor([[-1.0, 0.0]]), margin=0.2).item() == 0.0
    # odd one identical to the pair: both terms equal the margin
    assert fec_triplet_loss(a, a, a, margin=0.2).item() == pytest.approx(0.4)


def test_soft_and_hard_cross_entropy_agree_on_one_hot():
    logits = torch.randn(5, 8)
    labels = torch.tensor([0, 3, 7, 1, 2])
    one_hot = torch.nn.functional.one_hot(labels, 8).float()
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(soft_cross_entropy(logits, labels).item(), rel=1e-5)


def test_rkd_losses_are_zero_for_the_same_geometry():
    torch.manual_seed(0)
    t = torch.randn(16, 80)
    assert rkd_distance_loss(3 * t, t).item() < 1e-6        # distances are normalised by their mean
    assert rkd_angle_loss(3 * t + 1, t).item() < 1e-6        # angles ignore scale and shift
    s = torch.randn(16, 80, requires_grad=True)
    loss = 25 * rkd_distance_loss(s, t) + 50 * rkd_angle_loss(s, t)
    loss.backward()
    assert loss.item() > 0 and s.grad.abs().sum() > 0


def test_distillation_target_is_80d_of_four_unit_parts():
    outs = [(torch.randn(4, 32), torch.randn(4, 8)), (torch.randn(4, 32), torch.randn(4, 8))]
    target = distillation_target(outs)
    assert target.shape == (4, 80)
    for lo, hi in [(0, 32), (32, 40), (40, 72), (72, 80)]:
        assert torch.allclose(target[:, lo:hi].norm(dim=1), torch.ones(4))


def _tiny(tmp_path, datasets, **kw):
    base = dict(phase="teacher", model="fever-teacher-112", overrides={"input_size": 64, "d_face": 32},
                out=str(tmp_path / "run"), data_root=str(datasets), epochs=1, epoch_triplets=40,
                batch_triplets=4, batch_labelled=4, val_triplets=50, threads=2)
    base.update(kw)
    return TrainConfig.from_dict(base)


def _weights(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


@pytest.mark.parametrize("split_at", [2])
def test_resume_is_exact(tmp_path, datasets, split_at):
    straight = Trainer(_tiny(tmp_path / "a", datasets, max_steps=4)).run()
    Trainer(_tiny(tmp_path / "b", datasets, max_steps=split_at)).run()
    resumed = Trainer(_tiny(tmp_path / "b", datasets, max_steps=4)).run()
    assert straight["step"] == resumed["step"] == 4
    wa, wb = _weights(tmp_path / "a" / "run" / "checkpoint.safetensors"), _weights(tmp_path / "b" / "run" / "checkpoint.safetensors")
    assert wa.keys() == wb.keys() and any(k.startswith("optim.") for k in wa)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    steps = (tmp_path / "b" / "run" / "steps.csv").read_text().splitlines()
    assert steps[0].startswith("step,epoch,loss,triplet,ce") and [r.split(",")[0] for r in steps[1:]] == ["1", "2", "3", "4"]
    straight_log = (tmp_path / "a" / "run" / "steps.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in steps[1:]] == [r.split(",")[2] for r in straight_log[1:]]   # same losses


def test_student_distils_from_two_teachers(tmp_path, datasets):
    teachers = []
    for d in (32, 16):
        m = fever.create_model("fever-teacher-112", input_size=64, d_face=d, name=f"t{d}")
        teachers.append(str(m.save_pretrained(tmp_path / f"t{d}")))
    unl = tmp_path / "faces.npy"
    np.save(unl, np.random.default_rng(0).integers(0, 255, (20, 64, 64), dtype=np.uint8))   # not FER's 48 px
    cfg = _tiny(tmp_path, datasets, phase="student", model="fever-student-mobilenetv3", overrides={},
                teachers=teachers, unlabelled=[str(unl)], batch_unlabelled=4, max_steps=2)
    Trainer(cfg).run()
    rows = (tmp_path / "run" / "steps.csv").read_text().splitlines()[1:]
    rkd_d = [float(r.split(",")[5]) for r in rows]
    assert len(rows) == 2 and all(v > 0 for v in rkd_d)
    best = fever.load(tmp_path / "run" / "best")
    assert best.config.distill_dim == 80
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["teachers"] == teachers


@pytest.mark.slow
def test_package_writes_a_loadable_folder_whose_card_has_the_results(tmp_path, datasets):
    from distill.cli import main as distill_main

    Trainer(_tiny(tmp_path, datasets, model="fever-student-mobilenetv3", overrides={"d_face": 32}, max_steps=2)).run()
    compare = tmp_path / "results.json"
    compare.write_text(json.dumps([{"model": "m", "source": "runs/other/best", "ferplus_test_accuracy": 0.5,
                                    "ferplus_test_accuracy_unweighted": 0.6, "fer2013_test_accuracy": 0.25,
                                    "fer2013_test_accuracy_unweighted": 0.3, "ferplus_triplet_accuracy": 0.75,
                                    "ferplus_triplet_accuracy_similarity_head": 0.7}]))
    out = tmp_path / "shipped"
    assert distill_main(["package", str(tmp_path / "run"), "--out", str(out), "--data-root", str(datasets),
                         "--name", "shipped-test", "--margin", "0.1", "--compare", str(compare)]) == 0
    model = fever.load(out)
    assert model.config.name == "shipped-test" and model.config.preprocess.margin == 0.1
    card = (out / "README.md").read_text()
    assert "| FER+ test accuracy, 8 classes (linear probe, majority labels) | " in card
    assert "## Compared with the other runs" in card and "| runs/other/best | 50.00% | 60.00% |" in card
    assert "| steps run so far | 2 |" in card
    assert (out / "probes" / "logistic" / "probe.safetensors").exists()


def test_package_refuses_a_bad_comparison_file_before_evaluating(tmp_path, capsys):
    from distill.cli import main as distill_main

    run = str(tmp_path / "no-such-run")     # never reached: the comparison file is checked first
    args = ["package", run, "--out", str(tmp_path / "out"), "--compare"]
    with pytest.raises(SystemExit) as exit_:
        distill_main(args + [str(tmp_path / "missing.json")])
    assert exit_.value.code == 2
    assert f"{tmp_path / 'missing.json'}: cannot read the comparison file" in capsys.readouterr().err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([{"model": "m", "ferplus_test_accuracy": 0.5}]))
    with pytest.raises(SystemExit):
        distill_main(args + [str(partial)])
    assert f"{partial}: result 0 lacks ferplus_test_accuracy_unweighted, fer2013_test_accuracy" in capsys.readouterr().err
    (tmp_path / "obj.json").write_text("{}")
    with pytest.raises(SystemExit):
        distill_main(args + [str(tmp_path / "obj.json")])
    assert "a comparison file is the list of results `fever-distill evaluate --json` writes" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown training settings: \\['lr_schedule'\\]"):
        TrainConfig.from_dict({"lr_schedule": "cosine"})
    with pytest.raises(ValueError, match="needs 'teachers'"):
        TrainConfig.from_dict({"phase": "student"})


def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path, datasets):
    """Real DistributedDataParallel on gloo: 2 processes, a few steps, identical weights after."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    cfg = _tiny(tmp_path, datasets, max_steps=3, threads=1).to_dict()
    config = tmp_path / "ddp.json"
    config.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "distill.cli", "teacher", "--config", str(config)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    check = json.loads((tmp_path / "run" / "sync_check.json").read_text())
    assert check["step"] == 3 and len(check["digests"]) == 2 and len(set(check["digests"])) == 1
    rows = (tmp_path / "run" / "steps.csv").read_text().splitlines()
    assert len(rows) == 4   # rank 0 alone writes the log
