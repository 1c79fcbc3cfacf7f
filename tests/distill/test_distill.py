"""Training pieces of DeepFEVER: the triplet rule, the losses, and exact resume."""

import csv
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import fever
from distill.config import TrainConfig
from distill.ferplus import FerPlusSplit
from distill.losses import distillation_target, fec_triplet_loss, rkd_angle_loss, rkd_distance_loss, soft_cross_entropy
from distill.trainer import Trainer
from distill.triplets import sample_triplets
from probes.metrics import triplet_accuracy


def test_majority_rule_drops_ties_and_unknown():
    votes = np.array(
        [
            [6, 4, 0, 0, 0, 0, 0, 0, 0, 0],  # neutral
            [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # tie -> no label
            [1, 0, 0, 0, 0, 0, 0, 0, 9, 0],  # unknown -> no label
            [0, 0, 0, 0, 0, 0, 0, 3, 0, 0],
        ]
    )  # contempt
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
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(
        soft_cross_entropy(logits, labels).item(), rel=1e-5
    )


def test_rkd_losses_are_zero_for_the_same_geometry():
    torch.manual_seed(0)
    t = torch.randn(16, 80)
    assert rkd_distance_loss(3 * t, t).item() < 1e-6  # distances are normalised by their mean
    assert rkd_angle_loss(3 * t + 1, t).item() < 1e-6  # angles ignore scale and shift
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
    # the 1.2 M-parameter VGG keeps these tests fast; the paper's teacher is built in test_models
    base = dict(
        phase="teacher",
        model="fever-student-vgg-s48",
        overrides={"d_face": 32, "distill_dim": 0},
        out=str(tmp_path / "run"),
        data_root=str(datasets),
        epochs=1,
        epoch_triplets=40,
        batch_triplets=4,
        batch_labelled=4,
        val_triplets=50,
        threads=2,
    )
    base.update(kw)
    return TrainConfig.from_dict(base)


def _weights(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def _straight_and_resumed(tmp_path, datasets, **recipe):
    """Checkpoints of 4 steps in one go (run a) and of 2 + 2 steps with a resume (run b): they must
    be equal to the bit."""
    straight = Trainer(_tiny(tmp_path / "a", datasets, max_steps=4, **recipe)).run()
    Trainer(_tiny(tmp_path / "b", datasets, max_steps=2, **recipe)).run()
    resumed = Trainer(_tiny(tmp_path / "b", datasets, max_steps=4, **recipe)).run()
    assert straight["step"] == resumed["step"] == 4
    wa, wb = (
        _weights(tmp_path / "a" / "run" / "checkpoint.safetensors"),
        _weights(tmp_path / "b" / "run" / "checkpoint.safetensors"),
    )
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    return wa, wb


def test_resume_is_exact(tmp_path, datasets):
    wa, _ = _straight_and_resumed(tmp_path, datasets)
    assert any(k.startswith("optim.") for k in wa)
    steps = (tmp_path / "b" / "run" / "steps.csv").read_text().splitlines()
    assert steps[0].startswith("step,epoch,loss,triplet,ce") and [r.split(",")[0] for r in steps[1:]] == [
        "1",
        "2",
        "3",
        "4",
    ]
    straight_log = (tmp_path / "a" / "run" / "steps.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in steps[1:]] == [r.split(",")[2] for r in straight_log[1:]]  # same losses


def test_student_distils_from_two_teachers(tmp_path, datasets):
    teachers = []
    for d in (32, 16):
        m = fever.create_model("fever-teacher-vgg13-48", input_size=64, d_face=d, name=f"t{d}")
        teachers.append(str(m.save_pretrained(tmp_path / f"t{d}")))
    unl = tmp_path / "faces.npy"
    np.save(unl, np.random.default_rng(0).integers(0, 255, (20, 64, 64), dtype=np.uint8))  # not FER's 48 px
    cfg = _tiny(
        tmp_path,
        datasets,
        phase="student",
        model="fever-student-vgg-s48",
        overrides={"d_face": 32},
        teachers=teachers,
        unlabelled=[str(unl)],
        batch_unlabelled=4,
        max_steps=2,
    )
    Trainer(cfg).run()
    with (tmp_path / "run" / "steps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    rkd_d = [float(r["rkd_distance"]) for r in rows]
    assert len(rows) == 2 and all(v > 0 for v in rkd_d)
    best = fever.load(tmp_path / "run" / "best")
    assert best.config.distill_dim == 80 and best.config.preprocess.input_size == 48  # teachers run at 64 px
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["teachers"] == teachers


@pytest.mark.slow
def test_package_writes_a_loadable_folder_whose_card_has_the_results(tmp_path, datasets):
    from distill.cli import main as distill_main

    Trainer(_tiny(tmp_path, datasets, model="fever-student-vgg-s48", overrides={"d_face": 32}, max_steps=2)).run()
    compare = tmp_path / "results.json"
    compare.write_text(
        json.dumps(
            [
                {
                    "model": "m",
                    "source": "runs/other/best",
                    "ferplus_accuracy": 0.5,
                    "ferplus_official_accuracy": 0.6,
                    "fer2013_accuracy": 0.25,
                    "triplet_accuracy": 0.75,
                    "triplet_accuracy_similarity_head": 0.7,
                }
            ]
        )
    )
    out = tmp_path / "shipped"
    assert (
        distill_main(
            [
                "package",
                str(tmp_path / "run"),
                "--out",
                str(out),
                "--data-root",
                str(datasets),
                "--name",
                "shipped-test",
                "--margin",
                "0.1",
                "--compare",
                str(compare),
            ]
        )
        == 0
    )
    model = fever.load(out)
    assert model.config.name == "shipped-test" and model.config.preprocess.margin == 0.1
    card = (out / "README.md").read_text()
    assert "| FER+ test accuracy, 8 classes (linear probe, unweighted, majority labels) | " in card
    assert (
        "## Compared with the other runs" in card
        and "| runs/other/best | 50.00% | 60.00% | 25.00% | 75.00% | - | - | 70.00% |" in card
    )
    assert "| steps run so far | 2 |" in card
    assert (out / "probes" / "logistic" / "probe.safetensors").exists()


def test_package_refuses_a_bad_comparison_file_before_evaluating(tmp_path, capsys):
    from distill.cli import main as distill_main

    run = str(tmp_path / "no-such-run")  # never reached: the comparison file is checked first
    args = ["package", run, "--out", str(tmp_path / "out"), "--compare"]
    assert distill_main(args + [str(tmp_path / "missing.json")]) == 1  # a FeverError: message, exit 1
    assert (
        f"fever-distill: error: {tmp_path / 'missing.json'}: cannot read the comparison file" in capsys.readouterr().err
    )
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([{"model": "m", "ferplus_accuracy": 0.5}]))
    assert distill_main(args + [str(partial)]) == 1
    assert f"{partial}: result 0 lacks ferplus_official_accuracy, fer2013_accuracy" in capsys.readouterr().err
    (tmp_path / "obj.json").write_text("{}")
    assert distill_main(args + [str(tmp_path / "obj.json")]) == 1
    assert "a comparison file is the list of results `fever-distill evaluate --json` writes" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown training settings: \\['lr_schedule'\\]"):
        TrainConfig.from_dict({"lr_schedule": "cosine"})
    with pytest.raises(ValueError, match="needs 'teachers'"):
        TrainConfig.from_dict({"phase": "student"})


@pytest.mark.slow  # 35 s on an AVX2-only CPU: two processes on two cores
def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path, datasets):
    """Real DistributedDataParallel on gloo: 2 processes, a few steps, identical weights after."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    # the training-only FER2013 head is averaged across ranks by hand: it is in the digest too
    cfg = _tiny(tmp_path, datasets, max_steps=3, threads=1, fer2013_weight=0.5).to_dict()
    config = tmp_path / "ddp.json"
    config.write_text(json.dumps(cfg))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "distill.cli",
        "teacher",
        "--config",
        str(config),
    ]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    check = json.loads((tmp_path / "run" / "sync_check.json").read_text())
    assert check["step"] == 3 and len(check["digests"]) == 2 and len(set(check["digests"])) == 1
    rows = (tmp_path / "run" / "steps.csv").read_text().splitlines()
    assert len(rows) == 4  # rank 0 alone writes the log


# -- the from-scratch recipe (issue 14) ------------------------------------------------------------------
def test_lr_schedules_known_values():
    onecycle = TrainConfig.from_dict({"schedule": "onecycle", "warmup_epochs": 2, "lr": 0.1})
    assert [round(onecycle.lr_at(s, 1000, 100), 4) for s in (0, 100, 200, 600, 1000)] == [0.004, 0.052, 0.1, 0.05, 0.0]
    cosine = TrainConfig.from_dict({"schedule": "cosine", "warmup_epochs": 1, "lr": 0.1, "min_lr": 0.01})
    assert cosine.lr_at(50, 1000, 100) == pytest.approx(0.004 + 0.096 * 0.5)  # linear warm-up
    assert cosine.lr_at(1000, 1000, 100) == pytest.approx(0.01)
    assert TrainConfig.from_dict({}).lr_at(500, 1000, 100) == 0.005  # the paper's constant rate


def test_recipe_config_errors_name_the_setting():
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig.from_dict({"schedule": "step"})
    with pytest.raises(ValueError, match="triplet_source must be 'sampled' or 'batch'"):
        TrainConfig.from_dict({"triplet_source": "fec"})
    with pytest.raises(ValueError, match="unknown augmentation settings: \\['blur'\\]"):
        TrainConfig.from_dict({"augment": {"blur": 1}})
    with pytest.raises(ValueError, match="ema_decay must be in"):
        TrainConfig.from_dict({"ema_decay": 1.0})


def test_augmentation_is_seeded_and_keeps_shape():
    from distill.augment import AugmentConfig, augment_batch
    from fever.preprocess import PreprocessConfig

    faces = np.random.default_rng(0).integers(0, 255, (6, 48, 48), dtype=np.uint8)
    pre = PreprocessConfig(input_size=48)
    aug = AugmentConfig(rotation=15, translate=0.1, erasing=1.0)
    a = augment_batch(faces, pre, np.random.default_rng(5), aug)
    b = augment_batch(faces, pre, np.random.default_rng(5), aug)
    assert a.shape == (6, 3, 48, 48) and torch.equal(a, b)
    # identity settings give the plain evaluation input back
    plain = AugmentConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=0.0, brightness=0, contrast=0, saturation=0)
    from distill.augment import eval_batch

    assert torch.allclose(augment_batch(faces, pre, np.random.default_rng(0), plain), eval_batch(faces, pre), atol=1e-5)


def test_random_erasing_replaces_one_rectangle():
    from distill.augment import _erase

    x = torch.zeros(4, 3, 20, 20)
    out = _erase(x, np.random.default_rng(1), 1.0, (0.1, 0.1))
    changed = (out != 0).any(dim=1)
    for mask in changed:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all() and mask.sum() == box.numel()  # one filled rectangle, nothing outside it
        assert 0.03 * 400 <= mask.sum() <= 0.2 * 400


def test_mixup_mixes_labels_with_the_pixels():
    from distill.augment import AugmentConfig, mix_batch

    x = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mx, my = mix_batch(x, y, np.random.default_rng(3), AugmentConfig(mixup=0.4, mix_prob=1.0))
    lam = 1 - float(mx[0].mean())  # face 0 (zeros) took (1 - lam) of face 1 (ones), or stayed
    assert torch.allclose(my.sum(1), torch.ones(2))
    assert my[0, 0].item() == pytest.approx(lam, abs=1e-6) or my[0, 0].item() == pytest.approx(1.0)
    same_x, same_y = mix_batch(x, y, np.random.default_rng(3), AugmentConfig())
    assert same_x is x and same_y is y


def test_in_batch_triplets_are_bounded():
    same = np.tile(np.array([[1.0, 0, 0]], np.float32), (10, 1))  # no unambiguous triplet exists
    assert sample_triplets(same, 50, np.random.default_rng(0), max_rounds=4).shape == (0, 3)
    assert sample_triplets(same[:2], 50, np.random.default_rng(0)).shape == (0, 3)  # fewer than 3 faces


# a student without teachers, drawing its vote triplets from batches of 16 labelled faces
SMALL_STUDENT = dict(
    phase="student",
    distill=False,
    overrides={"d_face": 32},
    triplet_source="batch",
    batch_labelled=16,
    batch_triplets=16,
    epochs=2,
)


def test_scratch_recipe_resumes_exactly_with_ema(tmp_path, datasets):
    recipe = dict(
        SMALL_STUDENT,
        model="fever-student-vgg-s48",
        schedule="onecycle",
        warmup_epochs=0.5,
        lr=0.05,
        weight_decay=5e-4,
        decay_norm_and_bias=False,
        ema_decay=0.9,
        augment={"rotation": 10, "erasing": 0.5, "mixup": 0.2, "mix_prob": 0.5},
        plot=False,
    )
    wa, wb = _straight_and_resumed(tmp_path, datasets, **recipe)
    assert any(k.startswith("ema.") for k in wa) and wa.keys() == wb.keys()
    ema_w = wa["ema.module.project.0.weight"]
    assert not torch.equal(ema_w, wa["model.project.0.weight"])  # the average lags the raw weights
    with (tmp_path / "a" / "run" / "steps.csv").open() as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    assert lrs[0] == pytest.approx(0.002) and lrs == sorted(lrs)  # warm-up from lr/25


@pytest.mark.slow  # 27 s on an AVX2-only CPU
def test_trainer_plots_curves(tmp_path, datasets):
    pytest.importorskip("matplotlib")
    from distill.curves import plot_curves

    Trainer(_tiny(tmp_path, datasets, **SMALL_STUDENT, model="fever-student-vgg-s48", ema_decay=0.5, max_steps=2)).run()
    epochs = (tmp_path / "run" / "epochs.csv").read_text().splitlines()
    assert epochs[0].startswith("epoch,step,lr,train_loss,val_accuracy") and len(epochs) == 2
    png = plot_curves(tmp_path / "run")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fer2013_head_trains_resumes_exactly_and_stays_out_of_the_model(tmp_path, datasets):
    recipe = dict(
        SMALL_STUDENT,
        fer2013_weight=0.5,
        augment={"mixup": 0.2, "mix_prob": 1.0},  # the FER2013 one-hots are mixed with the votes
        plot=False,
    )
    wa, wb = _straight_and_resumed(tmp_path, datasets, **recipe)
    assert wa["aux.fer2013.weight"].shape == (7, 32) and wa.keys() == wb.keys()
    with (tmp_path / "a" / "run" / "steps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    losses = [float(r["fer2013"]) for r in rows]
    assert len(losses) == 4 and all(0 < v < 5 for v in losses)  # about ln 7 = 1.95 at the start
    with (tmp_path / "a" / "run" / "epochs.csv").open() as fh:
        epoch = list(csv.DictReader(fh))[-1]
    assert 0.0 <= float(epoch["val_fer2013_accuracy"]) <= 1.0
    saved = _weights(tmp_path / "a" / "run" / "best" / "model.safetensors")
    assert not any("fer2013" in k for k in saved)  # the shipped model keeps the paper's heads


def test_fer2013_head_needs_fer2013_labels(tmp_path, datasets):
    folder = tmp_path / "faces" / "happiness"
    folder.mkdir(parents=True)
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(folder / f"{i}.png")
    cfg = _tiny(tmp_path, datasets, train_data=f"folder:{tmp_path / 'faces'}", fer2013_weight=1.0)
    with pytest.raises(ValueError, match="has no FER2013 labels"):
        Trainer(cfg)
    with pytest.raises(ValueError, match="fer2013_weight must be >= 0"):
        TrainConfig.from_dict({"fer2013_weight": -1})


def test_a_resumed_run_keeps_the_columns_its_logs_started_with(tmp_path, datasets):
    """Newer code may log more columns; rows appended to an older log follow that log's header."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "steps.csv").write_text("step,epoch,loss\n")
    Trainer(_tiny(tmp_path, datasets, max_steps=1, plot=False)).run()
    with (run / "steps.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["step", "epoch", "loss"] and len(rows) == 2 and len(rows[1]) == 3
    assert rows[1][0] == "1"


def test_init_from_starts_at_the_given_weights_and_refuses_another_shape(tmp_path, datasets):
    source = fever.create_model("fever-student-vgg-s48", d_face=32, distill_dim=0, name="start")
    folder = source.save_pretrained(tmp_path / "start")
    trainer = Trainer(_tiny(tmp_path, datasets, init_from=str(folder)))
    start = source.state_dict()
    assert all(torch.equal(v, start[k]) for k, v in trainer.model.state_dict().items())
    with pytest.raises(ValueError, match="init_from .* is not a fever-student-vgg-s48 with these overrides"):
        Trainer(_tiny(tmp_path / "other", datasets, init_from=str(folder), overrides={"d_face": 16}))


def test_training_record_says_where_the_run_started_and_every_loss(tmp_path):
    from distill.checkpoint import save_checkpoint
    from distill.package import training_record

    cfg = TrainConfig.from_dict(
        {"phase": "student", "distill": False, "init_from": "fever/weights/x", "fer2013_weight": 0.5}
    )
    (tmp_path / "train_config.json").write_text(json.dumps(cfg.to_dict()))
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    save_checkpoint(
        tmp_path / "checkpoint.safetensors", model, optimizer, {"step": 8, "steps_per_epoch": 4, "elapsed_s": 36}
    )
    record = training_record(tmp_path)
    assert record["started from"] == "fever/weights/x" and record["phase"] == "student (no distillation)"
    assert record["loss"].endswith("+ 0.5 x cross-entropy on FER2013's own labels (a head used in training only)")
    assert record["epochs run so far (of planned)"] == "2.00 of 13" and record["steps run so far"] == 8
    (tmp_path / "train_config.json").write_text(json.dumps({**cfg.to_dict(), "init_from": ""}))
    assert training_record(tmp_path)["started from"] == "random weights"


def test_curves_command_overlays_runs_on_the_network_epoch_axis(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from distill.cli import main
    from distill.curves import CurveSource, read_epochs

    header = "epoch,step,lr,train_loss,val_accuracy,val_triplet_accuracy,val_fer2013_accuracy\n"
    (tmp_path / "scratch").mkdir()
    scratch_rows = "1.00,10,0.1,2.0,0.50,0.60,\n2.00,20,0.0,1.0,0.80,0.85,\n"
    (tmp_path / "scratch" / "epochs.csv").write_text(header + scratch_rows)
    (tmp_path / "more-epochs.csv").write_text(header + "1.00,10,0.03,1.0,0.81,0.86,0.60\n")

    source = CurveSource.parse(f"{tmp_path / 'more-epochs.csv'}@45")
    assert (source.start_epoch, source.label) == (45.0, "more")
    assert CurveSource.parse(str(tmp_path / "scratch")).label == "scratch"
    assert [r["val_accuracy"] for r in read_epochs(tmp_path / "scratch")] == ["0.50", "0.80"]

    out = tmp_path / "plateau.png"
    assert main(["curves", str(tmp_path / "scratch"), f"{tmp_path / 'more-epochs.csv'}@2", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and capsys.readouterr().out.strip() == str(out)

    assert main(["curves", str(tmp_path / "missing-epochs.csv"), "--out", str(out)]) == 1
    assert "missing-epochs.csv: no epochs.csv rows to plot" in capsys.readouterr().err
    assert main(["curves", f"{tmp_path / 'more-epochs.csv'}@x", "--out", str(out)]) == 1
    assert "the part after @ must be a number of epochs, not 'x'" in capsys.readouterr().err
