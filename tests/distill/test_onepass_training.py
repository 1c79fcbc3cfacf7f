"""Training the one-pass detector (issue 24): composite scenes and a few steps that learn a face."""

import numpy as np
import pytest
import torch

from distill.onepass.loss import onepass_loss
from distill.onepass.scenes import SceneFace, compose_scene, fer_face
from fever.onepass import OnePassConfig, OnePassNet, encode
from fever.onepass.detector import OnePassDetector, prepare
from fever.onepass.network import HEADS, OUTPUT_STRIDE
from tests.helpers import SAMPLES


def _face() -> SceneFace:
    from PIL import Image

    pixels = np.asarray(Image.open(SAMPLES / "ferplus_happiness_fer0032227.png").convert("L"))
    return fer_face(pixels, np.array([0, 9, 1, 0, 0, 0, 0, 0, 0, 0]))


def _iou(a, b):
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_composite_scenes_have_exact_boxes_and_the_votes():
    rng = np.random.default_rng(0)
    background = np.full((180, 320, 3), 90, np.uint8)
    scene, targets = compose_scene(background, [_face(), _face()], rng, face_sizes=(40, 60))
    assert scene.shape == background.shape and len(targets) == 2
    for t in targets:
        x1, y1, x2, y2 = t.box
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 180 and 40 <= max(x2 - x1, y2 - y1) <= 60.5
        assert np.allclose(t.expression[:3], [0, 0.9, 0.1]) and t.landmarks is None
        inside = scene[int(y1) : int(y2), int(x1) : int(x2)].astype(int)
        assert np.abs(inside - 90).mean() > 10  # a face is there, not the background
    a, b = targets[0].box, targets[1].box
    assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]  # never on top of each other
    again, _ = compose_scene(background, [_face(), _face()], np.random.default_rng(0), face_sizes=(40, 60))
    assert np.array_equal(again, scene)


@pytest.fixture(scope="module")
def tiny_detector():
    """A tiny one-pass detector trained for 120 steps on six composite scenes of one FER+ face."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    config = OnePassConfig(widths=(16, 24, 32, 48), head_width=16, input_scale=1.0, min_score=0.3)
    net = OnePassNet(config)
    scenes = []
    for _ in range(6):
        background = (rng.random((128, 128, 3)) * 60 + 80).astype(np.uint8)
        scenes.append(compose_scene(background, [_face()], rng, face_sizes=(48, 64)))
    x = prepare([s for s, _ in scenes], config)
    grid = (x.shape[-2] // OUTPUT_STRIDE, x.shape[-1] // OUTPUT_STRIDE)
    targets = [encode(t, grid, OUTPUT_STRIDE) for _, t in scenes]
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(120):
        loss, parts = onepass_loss(net(x), targets)
        losses.append(parts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net, scenes, losses


def test_a_tiny_detector_trained_for_a_few_steps_finds_the_pasted_face(tiny_detector):
    net, scenes, losses = tiny_detector
    assert losses[-1]["heatmap"] < losses[0]["heatmap"] / 4
    found = OnePassDetector(net).detect([scenes[0][0]])[0]
    assert found, "no face found"
    assert _iou(found[0].box, scenes[0][1][0].box) >= 0.5
    assert int(found[0].expression_logits.argmax()) == 1  # happiness, as the votes say


def test_detector_folders_round_trip_and_damage_is_named(tiny_detector, tmp_path):
    import json

    import fever
    from fever.onepass.detector import config_hash, load_detector, save_detector

    net, scenes, _ = tiny_detector
    folder = save_detector(net, tmp_path / "det")
    again = load_detector(folder).detect([scenes[1][0]])[0]
    first = OnePassDetector(net).detect([scenes[1][0]])[0]
    assert len(again) == len(first) and np.allclose(again[0].box, first[0].box, atol=0.5)  # fp16 weights
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "head_width": 32}))
    with pytest.raises(fever.ModelLoadError, match="config.json does not match model.safetensors"):
        load_detector(folder)
    card = (folder / "README.md").read_text()
    assert "| face score threshold | 0.3 (chosen on valid scenes" in card and f"`{config_hash(net.config)}`" in card
    assert "Not evaluated" in card  # no metrics were passed
    assert "| expression branch | none: the expression logits are read off the shared head |" in card


def test_a_missing_bundled_detector_is_named(tmp_path, monkeypatch):
    import fever
    import fever.onepass.detector as detector

    monkeypatch.setattr(detector, "BUNDLED", tmp_path / "fever-onepass")
    with pytest.raises(fever.ModelLoadError, match="no bundled one-pass detector in this fever"):
        fever.Extractor(None, device="cpu", detector="onepass")


def test_fever_embed_with_a_one_pass_detector_on_a_short_clip(tiny_detector, tmp_path, tiny_model_dir):
    """The CLI flag end to end: every row has a vector from the usual crop + embed path and the
    detector's own expression logits; bad inputs behave as with MTCNN."""
    import pyarrow.parquet as pq

    from fever.cli.embed import main
    from fever.onepass.detector import save_detector
    from fever.parquet import embeddings
    from tests.helpers import write_video

    net, scenes, _ = tiny_detector
    folder = save_detector(net, tmp_path / "det")
    clip = write_video(tmp_path / "clip.mp4", [scenes[0][0]] * 6)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    out = tmp_path / "v.parquet"
    args = [str(clip), str(broken), "--out", str(out), "--model", str(tiny_model_dir), "--detector", str(folder)]
    assert main(args + ["--min-track-frames", "1", "--no-progress"]) == 2  # the broken file failed, the rest ran
    table = pq.read_table(out)
    rows = [r for r in table.to_pylist() if r["path"] == str(clip)]
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    assert all(len(r["expression_onepass"]) == 8 and int(np.argmax(r["expression_onepass"])) == 1 for r in rows)
    assert np.isfinite(embeddings(table)[[i for i, r in enumerate(table.to_pylist()) if r["path"] == str(clip)]]).all()
    bad = [r for r in table.to_pylist() if r["path"] == str(broken)]
    assert bad[0]["status"] == "error" and "not an image file that can be decoded" in bad[0]["error"]


def test_per_class_ap_and_map_of_a_detector_on_known_scenes(tiny_detector):
    """The evaluation paper 004 reports, with torchmetrics: the tiny detector on its own scenes
    finds its one class; a detector that finds nothing scores 0."""
    from distill.onepass.evaluate import composite_map, format_detector_results, onepass_faces

    net, scenes, _ = tiny_detector
    result = composite_map(onepass_faces(OnePassDetector(net)), scenes)
    assert result["scenes"] == 6 and result["faces"] == 6
    assert result["ap_50_per_class"]["happiness"] > 0.5 and result["map_50"] > 0.1
    assert 0 <= result["map_50_95"] <= result["map_50"] + 1e-6
    assert result["false_faces_per_scene"] <= 1.0 and result["paper_004_map_50"] == 0.3393
    assert result["recall"] >= 5 / 6  # the pasted face is found in (nearly) every scene
    assert result["expression_accuracy"] == 1.0  # and named happiness, as its votes say
    by_size = result["expression_accuracy_by_size"]
    assert list(by_size) == ["0-40 px", "40-80 px", ">= 80 px"]
    assert sum(row["faces"] for row in by_size.values()) == round(result["recall"] * 6)
    assert by_size["0-40 px"]["faces"] == 0 and by_size["40-80 px"]["accuracy"] == 1.0  # pasted at 48-64 px
    assert "(longer side of the true box): 0-40 px 0.00% of 0, 40-80 px 100.00% of" in format_detector_results(
        {**result, "mtcnn": {"recall": 1.0, "false_faces_per_scene": 0.0}}
    )
    blind = composite_map(onepass_faces(OnePassDetector(net, min_score=1.01)), scenes)
    assert blind["map_50"] <= 0.0 and blind["false_faces_per_scene"] == 0 and blind["recall"] == 0.0
    assert blind["expression_accuracy"] == 0.0


def test_threshold_sweep_matches_detection_at_each_threshold(tiny_detector):
    """One pass at the lowest threshold gives what a detector set to each threshold finds."""
    from distill.onepass.evaluate import threshold_sweep

    net, scenes, _ = tiny_detector
    sweep = threshold_sweep(OnePassDetector(net), scenes, [0.3, 0.6, 1.01])
    assert [row["threshold"] for row in sweep] == [0.3, 0.6, 1.01]
    for row in sweep:
        direct = OnePassDetector(net, min_score=row["threshold"])
        found = sum(
            any(_iou(f.box, t.box) >= 0.5 for f in direct.detect([scene])[0]) for scene, truth in scenes for t in truth
        )
        assert row["recall"] == pytest.approx(found / 6)
    assert sweep[0]["recall"] >= 5 / 6 and sweep[-1] == {"threshold": 1.01, "recall": 0.0, "false_faces_per_scene": 0.0}


def test_the_threshold_rule_takes_the_lowest_score_with_no_more_false_faces_than_mtcnn():
    from distill.onepass.evaluate import choose_threshold

    sweep = [
        {"threshold": 0.2, "recall": 0.99, "false_faces_per_scene": 0.30},
        {"threshold": 0.4, "recall": 0.97, "false_faces_per_scene": 0.05},
        {"threshold": 0.6, "recall": 0.90, "false_faces_per_scene": 0.01},
    ]
    assert choose_threshold(sweep, 0.05)["threshold"] == 0.4
    assert choose_threshold(sweep, 1.0)["threshold"] == 0.2
    assert choose_threshold(sweep, 0.0)["threshold"] == 0.6  # none is allowed: the strictest


def _packaging_run(tiny_detector, tmp_path):
    """A tiny detector run folder (last/, checkpoint, config, steps.csv) and a one-picture labels file."""
    import io
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from distill.checkpoint import save_checkpoint
    from fever.onepass.detector import save_detector

    net, scenes, _ = tiny_detector
    run = tmp_path / "run"
    save_detector(net, run / "last")
    save_checkpoint(run / "checkpoint.safetensors", net, torch.optim.SGD(net.parameters(), lr=0.1), {"step": 120})
    (run / "train_config.json").write_text(
        json.dumps(
            {
                "steps": 120,
                "batch": 6,
                "real_fraction": 0.0,
                "faces_per_scene": [1, 1],
                "face_sizes": [48, 64],
                "lr": 3e-3,
                "weight_decay": 0.01,
                "warmup_steps": 0,
                "bf16": False,
            }
        )
    )
    (run / "steps.csv").write_text("step,loss,elapsed_s\n120,1.5,30.0\n")
    buf = io.BytesIO()
    Image.fromarray(scenes[0][0]).save(buf, format="JPEG", quality=95)
    box = scenes[0][1][0].box.tolist()
    labels = tmp_path / "labels.parquet"
    pq.write_table(
        pa.table(
            {
                "source": ["scene0"],
                "image": [buf.getvalue()],
                "boxes": [[box]],
                "landmarks": [[[0.0] * 10]],
                "probabilities": [[[0, 1, 0, 0, 0, 0, 0, 0]]],
            }
        ),
        labels,
    )
    return run, labels


@pytest.mark.slow
def test_package_detector_chooses_on_valid_and_tests_the_saved_folder(tiny_detector, tmp_path, datasets):
    """The packaging path end to end on a tiny run: the threshold comes from valid scenes, the
    card carries the test figures, and the folder loads with the chosen threshold."""
    from distill.onepass.package import THRESHOLDS, package_detector
    from fever.onepass.detector import load_detector

    run, labels = _packaging_run(tiny_detector, tmp_path)
    summary = package_detector(run, tmp_path / "out", labels, datasets, scenes=3, valid_labels=labels)
    chosen = summary["chosen"]["threshold"]
    assert summary["valid_real"]["mtcnn_faces"] == 1 and summary["valid_real"]["frames"] == 1
    assert load_detector(tmp_path / "out").min_score == chosen
    assert [row["threshold"] for row in summary["threshold_sweep_valid"]] == THRESHOLDS
    assert summary["test"]["scenes"] == 3
    assert summary["test"]["held_out_real"]["mtcnn_faces"] == 1
    assert summary["test"]["two_stage"]["scenes"] == 3  # the bundled default's probe reads the same boxes
    card = (tmp_path / "out" / "README.md").read_text()
    assert (
        "FER+ **test** faces" in card
        and "Two-stage reading of the one-pass boxes" in card
        and f"Chosen: {chosen:g}" in card
        and "| steps (of planned) | 120 of 120 |" in card
        and "On the valid videos' 1 pictures it finds" in card
    )


def test_a_valid_only_package_reads_no_test_scene(tiny_detector, tmp_path, datasets, monkeypatch):
    """--valid-only: a candidate is packaged at its valid threshold to be compared with the bundled
    detector, and not one test scene or test picture is read."""
    import distill.onepass.package as package
    from distill.onepass.package import THRESHOLDS
    from fever.onepass.detector import load_detector

    run, _ = _packaging_run(tiny_detector, tmp_path)
    splits = []
    real_eval_scenes = package.eval_scenes
    monkeypatch.setattr(
        package, "eval_scenes", lambda root, split, n: splits.append(split) or real_eval_scenes(root, split, n)
    )
    summary = package.package_detector(run, tmp_path / "candidate", None, datasets, scenes=3)
    assert splits == ["valid"] and "test" not in summary
    assert [row["threshold"] for row in summary["threshold_sweep_valid"]] == THRESHOLDS
    assert load_detector(tmp_path / "candidate").min_score == summary["chosen"]["threshold"]
    card = (tmp_path / "candidate" / "README.md").read_text()
    assert "Not read on test yet" in card and "**test**" not in card


def test_bf16_detection_keeps_the_boxes_and_a_bad_precision_is_named(tiny_detector):
    from fever.errors import UsageError

    net, scenes, _ = tiny_detector
    fp32 = OnePassDetector(net).detect([scenes[2][0]])[0]
    bf16 = OnePassDetector(net, precision="bf16").detect([scenes[2][0]])[0]
    assert len(bf16) == len(fp32) >= 1
    assert np.abs(bf16[0].box - fp32[0].box).max() < 2.0 and abs(bf16[0].score - fp32[0].score) < 0.05
    with pytest.raises(UsageError, match="precision must be one of"):
        OnePassDetector(net, precision="fp16")


def test_an_expression_branch_gives_logits_on_the_shared_grid_and_old_folders_keep_their_hash(tmp_path):
    from fever.onepass.detector import config_hash, load_detector, save_detector

    plain = OnePassConfig(widths=(16, 24, 32, 48), head_width=16)
    branched = OnePassConfig(widths=(16, 24, 32, 48), head_width=16, expression_width=24)
    assert "expression_width" not in plain.to_dict()  # folders written before the branch hash as they did
    assert config_hash(plain) != config_hash(branched)
    net = OnePassNet(branched).eval()
    out = net(torch.rand(2, 3, 96, 160))
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, n, 24, 40) for k, n in HEADS.items()}
    assert net.heads["expression"].in_channels == 24
    folder = save_detector(net, tmp_path / "branched")
    assert "| expression branch | its own, 24 channels at stride 8" in (folder / "README.md").read_text()
    again = load_detector(folder).net
    assert again.config.expression_width == 24
    x = torch.rand(1, 3, 96, 160)
    assert torch.allclose(again(x)["expression"], net(x)["expression"], atol=2e-2)  # fp16 weights


def test_deeper_stages_round_trip_and_the_default_depths_keep_old_hashes(tmp_path):
    from fever.onepass.detector import config_hash, load_detector, save_detector

    plain = OnePassConfig(widths=(16, 24, 32, 48), head_width=16)
    deeper = OnePassConfig(widths=(16, 24, 32, 48), head_width=16, depths=(2, 4, 3))
    assert "depths" not in plain.to_dict() and deeper.to_dict()["depths"] == [2, 4, 3]
    assert config_hash(plain) != config_hash(deeper)
    net = OnePassNet(deeper).eval()
    assert len(net.stage16) == 4 and len(net.stage32) == 3
    folder = save_detector(net, tmp_path / "deeper")
    assert "| separable blocks at strides 8, 16, 32 | 2, 4, 3 |" in (folder / "README.md").read_text()
    again = load_detector(folder).net
    assert again.config.depths == (2, 4, 3)
    x = torch.rand(1, 3, 96, 160)
    assert torch.allclose(again(x)["heatmap"], net(x)["heatmap"], atol=2e-2)


def test_a_run_can_start_from_a_trained_detector_and_its_new_branch_starts_random(tmp_path):
    from distill.onepass.train import start_from
    from fever.onepass.detector import save_detector

    torch.manual_seed(0)
    trained = OnePassNet(OnePassConfig(widths=(16, 24, 32, 48), head_width=16)).eval()
    folder = save_detector(trained, tmp_path / "first")
    net = OnePassNet(OnePassConfig(widths=(16, 24, 32, 48), head_width=16, expression_width=24))
    fresh = sorted(k for k in net.state_dict() if k.startswith("expression_")) + ["heads.expression.weight"]
    assert start_from(net, folder) == sorted(fresh)  # the head's bias (8 class priors) fits and is taken
    stem = "stem.0.0.weight"
    assert torch.equal(net.state_dict()[stem], trained.state_dict()[stem].half().float())
    with pytest.raises(ValueError, match=r"its stem and stride-8 stage \(widths \[16, 24\], depth 2\) are not"):
        start_from(OnePassNet(OnePassConfig(widths=(8, 8, 8, 8), head_width=4)), folder)
    # deeper, wider coarse stages: the stem and the stride-8 stage carry over, the rest starts random
    deeper = OnePassNet(OnePassConfig(widths=(16, 24, 64, 96), depths=(2, 4, 3), head_width=16))
    fresh = start_from(deeper, folder)
    assert "stage16.3.1.0.weight" in fresh and "stage16.0.1.0.weight" in fresh and "lateral.2.0.weight" in fresh
    assert not any(k.startswith(("stem.", "stage8.", "lateral.0.", "lateral.1.")) for k in fresh)
    assert torch.equal(deeper.state_dict()[stem], trained.state_dict()[stem].half().float())


def test_class_balance_lifts_the_rare_classes_and_zero_keeps_faces_uniform():
    from distill.onepass.train import face_weights

    votes = np.zeros((10, 10))
    votes[:8, 0] = 10  # eight neutral faces
    votes[8, 7] = 10  # one contempt face
    # the tenth face has no votes and is never drawn
    balanced = face_weights(votes, 1.0)
    assert balanced[9] == 0 and np.isclose(balanced[8], 0.5) and np.allclose(balanced[:8], 0.5 / 8)
    assert np.allclose(face_weights(votes, 0.0)[:9], 1 / 9)
    half = face_weights(votes, 0.5)[8]
    assert 1 / 9 < half < 0.5


def test_a_negative_expression_width_is_named(tmp_path):
    import json

    import fever
    from fever.onepass.detector import load_detector, save_detector

    folder = save_detector(OnePassNet(OnePassConfig(widths=(8, 8, 8, 8), head_width=4)), tmp_path / "det")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "expression_width": -3}))
    with pytest.raises(fever.ModelLoadError, match=r"not a valid one-pass detector config \(.*expression_width -3"):
        load_detector(folder)


def test_mirroring_a_real_picture_moves_its_boxes_and_swaps_left_for_right():
    from distill.onepass.train import mirror

    picture = np.zeros((10, 20, 3), np.uint8)
    picture[:, :5] = 255  # the left quarter is white
    boxes = np.array([[2.0, 1.0, 6.0, 9.0]], np.float32)
    landmarks = np.array([[[3, 4], [5, 4], [4, 6], [3, 8], [5, 8]]], np.float32)  # eyes, nose, mouth corners
    flipped, fboxes, flandmarks = mirror(picture, boxes, landmarks)
    assert flipped[:, 15:].min() == 255 and flipped[:, :15].max() == 0
    assert np.allclose(fboxes, [[14.0, 1.0, 18.0, 9.0]])
    # the picture's left eye at x 3 becomes its right eye at x 17; the eye at x 5 is the new left eye
    assert np.allclose(flandmarks[0], [[15, 4], [17, 4], [16, 6], [15, 8], [17, 8]])
    back = mirror(flipped, fboxes, flandmarks)
    assert np.array_equal(back[0], picture) and np.allclose(back[1], boxes) and np.allclose(back[2], landmarks)


def test_whole_scenes_take_the_video_degradations_and_unknown_settings_are_named(tmp_path):
    import json

    from distill.onepass.train import DetectorTrainConfig
    from distill.video_augment import VideoDegradation, video_degrade

    scenes = torch.rand(3, 3, 40, 72)
    deg = VideoDegradation(blur=1.0, downscale=1.0, jpeg=1.0, noise=1.0)
    out = video_degrade(scenes, np.random.default_rng(0), deg)
    assert out.shape == scenes.shape and not torch.equal(out, scenes)
    assert torch.equal(video_degrade(scenes, np.random.default_rng(0), deg), out)  # a function of the generator
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scene_video": {"blur": 0.2, "sharpen": 0.1}}))
    with pytest.raises(ValueError, match=r"unknown scene_video settings: \['sharpen'\]"):
        DetectorTrainConfig.from_file(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"scene_video": {"blur": 0.2, "blur_sigma": [0.5, 1.0]}, "real_scale": [0.4, 1.0]}))
    cfg = DetectorTrainConfig.from_file(good)
    assert cfg.degradation() == VideoDegradation(blur=0.2, blur_sigma=(0.5, 1.0)) and cfg.real_scale == (0.4, 1.0)


def test_real_frames_are_split_by_whole_video():
    from distill.onepass.labels import HELD_OUT_VIDEOS, SPLITS, VALID_VIDEOS, _pictures, video_split

    assert [video_split(v) for v in HELD_OUT_VIDEOS] == ["test"] * len(HELD_OUT_VIDEOS)
    assert [video_split(v) for v in VALID_VIDEOS] == ["valid"] * len(VALID_VIDEOS)
    assert video_split("single_face.mp4") == "train" and not set(HELD_OUT_VIDEOS) & set(VALID_VIDEOS)
    assert SPLITS == ("train", "valid", "test", "train+valid")
    with pytest.raises(ValueError, match=r"split must be one of .* not 'holdout'"):
        next(_pictures(SAMPLES, "holdout", 2.0))


def test_a_video_share_draws_real_pictures_from_the_videos_that_often():
    from distill.onepass.train import DetectorTrainConfig, DetectorTrainer

    trainer = DetectorTrainer.__new__(DetectorTrainer)  # only the drawing of real rows, no data loaded
    trainer.real = [{"source": "utkface/a.jpg"}] * 9 + [{"source": "clip.mp4#3"}]
    trainer.real_pools = [np.array([9]), np.arange(9)]
    rng = np.random.default_rng(0)
    for share, low, high in ((0.0, 0.05, 0.15), (0.5, 0.45, 0.55), (1.0, 1.0, 1.0)):
        trainer.cfg = DetectorTrainConfig(real_video_share=share)
        videos = np.mean(["#" in trainer._real_row(rng)["source"] for _ in range(2000)])
        assert low <= videos <= high, (share, videos)


def test_a_detector_config_with_a_stage_of_no_blocks_is_named(tmp_path):
    import json

    import fever
    from fever.onepass.detector import load_detector, save_detector

    folder = save_detector(OnePassNet(OnePassConfig(widths=(8, 8, 8, 8), head_width=4)), tmp_path / "det")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "depths": [2, 0, 2]}))
    with pytest.raises(fever.ModelLoadError, match=r"not a valid one-pass detector config \(.*depths \[2, 0, 2\]"):
        load_detector(folder)


def test_a_real_picture_is_placed_inside_the_scene_or_zoomed_in_with_cut_faces_clipped_or_dropped():
    from distill.onepass.train import place

    picture = np.zeros((100, 200, 3), np.uint8)
    picture[10:50, 20:60] = 200  # face A, well inside
    picture[60:100, 170:200] = 100  # face B, at the picture's bottom right corner
    boxes = np.array([[20, 10, 60, 50], [170, 60, 200, 100]], np.float32)
    landmarks = np.zeros((2, 5, 2), np.float32) + [[[40, 30]], [[185, 80]]]
    canvas = np.full((120, 240, 3), 7, np.uint8)
    # fits: the picture at half size lies whole inside the canvas, boxes scaled and shifted
    out, b, lm, kept = place(picture, boxes, landmarks, canvas.copy(), 0.5, np.random.default_rng(0))
    assert kept == [0, 1]
    x0, y0 = b[0, 0] - 10, b[0, 1] - 5
    assert np.allclose(b, boxes * 0.5 + [x0, y0, x0, y0]) and np.allclose(lm[0, 0], [20 + x0, 15 + y0])
    assert (out == 7).sum() == 3 * (120 * 240 - 50 * 100) and out[int(y0) + 10, int(x0) + 15, 0] == 200
    # zoomed in 3x: the canvas is all picture, boxes are clipped to it and a face mostly outside is dropped
    for seed in range(20):
        out, b, lm, kept = place(picture, boxes, landmarks, canvas.copy(), 3.0, np.random.default_rng(seed))
        assert not (out == 7).any()
        assert ((b >= 0) & (b <= [240, 120, 240, 120])).all() and len(b) == len(lm) == len(kept)
        for box, i in zip(b, kept):
            full = boxes[i] * 3.0
            visible = (box[2] - box[0]) * (box[3] - box[1])
            assert visible >= 0.6 * (full[2] - full[0]) * (full[3] - full[1]) - 1e-3
    assert any(
        len(place(picture, boxes, landmarks, canvas.copy(), 3.0, np.random.default_rng(s))[3]) < 2 for s in range(20)
    )


def test_real_frame_agreement_tells_a_misplaced_box_from_a_found_face(tiny_detector):
    import io

    from PIL import Image

    from distill.onepass.evaluate import real_frame_agreement

    net, scenes, _ = tiny_detector
    scene, faces = scenes[0]
    buf = io.BytesIO()
    Image.fromarray(scene).save(buf, format="JPEG", quality=95)
    box = faces[0].box
    shifted = box + np.array([0.45, 0, 0.45, 0]) * (box[2] - box[0])  # IoU with the face about 0.38
    row = {"image": buf.getvalue(), "probabilities": [[0, 1, 0, 0, 0, 0, 0, 0]]}
    exact = real_frame_agreement(OnePassDetector(net), [{**row, "boxes": [box.tolist()]}])
    assert exact["found_share"] == 1.0 and exact["misplaced_share"] == 0.0 and exact["expression_agreement"] == 1.0
    off = real_frame_agreement(OnePassDetector(net), [{**row, "boxes": [shifted.tolist()]}])
    assert off["found_share"] == 0.0 and off["misplaced_share"] == 1.0


def test_label_sources_name_the_videos_and_count_the_photos(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from distill.onepass.labels import label_sources
    from distill.onepass.package import _real_pictures

    path = tmp_path / "labels.parquet"
    sources = ["b.mp4#3", "a.mov#0", "b.mp4#9", "utkface/x.jpg", "utkface/y.jpg"]
    pq.write_table(pa.table({"source": sources, "image": [b""] * 5}), path)
    assert label_sources(path) == (["a.mov", "b.mp4"], 2)
    assert _real_pictures(str(path)).startswith("frames of a.mov, b.mp4 and 2 UTKFace photos (labels.parquet)")
    assert _real_pictures(str(tmp_path / "gone.parquet")).endswith(
        "gone.parquet, not found when this folder was packaged"
    )


def test_the_two_stage_reading_scores_the_same_boxes_with_the_probe(tiny_detector, tmp_path, model_with_probe):
    """--two-stage: the one-pass boxes go through fever's crop + embed path and the model's shipped
    probe; the faces found are the same, only their expression probabilities change."""
    import probes
    from distill.onepass.evaluate import composite_map, format_detector_results, onepass_faces, two_stage_faces
    from fever.models.config import EXPRESSION_CLASSES
    from fever.onepass.detector import load_detector, save_detector

    net, scenes, _ = tiny_detector
    folder = save_detector(net, tmp_path / "det")
    own, two = onepass_faces(load_detector(folder)), two_stage_faces(folder, model_with_probe)
    probe = probes.load(model_with_probe / "probes" / "logistic")
    compared = 0
    for scene, _ in scenes[:3]:
        a, b = own(scene), two(scene)
        compared += len(b)
        assert len(a) == len(b) and all(np.allclose(x.box, y.box, atol=1e-3) for x, y in zip(a, b))
        for face in b:
            assert face.probabilities.shape == (len(EXPRESSION_CLASSES),)
            assert np.isclose(face.probabilities.sum(), 1.0, atol=1e-5)
            missing = [k for k, c in enumerate(EXPRESSION_CLASSES) if c not in probe.classes_]
            assert (face.probabilities[missing] == 0).all()  # classes the probe never saw score 0
    assert compared >= 2
    result = composite_map(two, scenes)
    assert result["recall"] == composite_map(own, scenes)["recall"]
    line = format_detector_results(
        {**composite_map(own, scenes), "mtcnn": {"recall": 1.0, "false_faces_per_scene": 0.0}, "two_stage": result}
    )
    assert (
        f"Two-stage reading of the one-pass boxes (crop, embed, the model's probe): mAP@0.5 {result['map_50']:.2%}"
        in line
    )


def test_small_faces_are_labelled_pictures_shrunk_onto_face_free_frames(tiny_detector, videos):
    """--small-faces: a labelled picture is shrunk so that its largest face is the size asked,
    placed on a 640x360 face-free frame with its box moved along, and both detectors are scored on it."""
    import io

    from PIL import Image

    from distill.onepass.evaluate import format_detector_results, shrunk_pictures, small_face_recall
    from fever.detect import FaceDetector

    picture = np.asarray(Image.open(SAMPLES / "pexels_wolfganglanger_face.jpg").convert("RGB"))
    box = FaceDetector().detect([picture])[0][0].box
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    labels = [{"image": buffer.getvalue(), "boxes": [box.tolist()]}] * 3
    shrunk = shrunk_pictures(labels, videos.parent, sides=(60.0, 60.0))
    assert len(shrunk) == 3
    for canvas, moved in shrunk:
        assert canvas.shape == (360, 640, 3) and moved.shape == (1, 4)
        assert abs(max(moved[0, 2] - moved[0, 0], moved[0, 3] - moved[0, 1]) - 60) < 1.5
        assert (moved[0, :2] >= 0).all() and moved[0, 2] <= 640 and moved[0, 3] <= 360
    net, _, _ = tiny_detector
    result = small_face_recall(OnePassDetector(net, min_score=1.01), shrunk)  # a detector that finds nothing
    assert result["faces"] == 3 and result["onepass"]["found_share"] == 0.0
    assert result["mtcnn"]["found_share"] == 1.0  # a 60 px real face: MTCNN finds its own box again
    assert result["onepass"]["by_size"]["40-80 px"]["faces"] == 3
    text = format_detector_results(
        {
            **_composite_part(),
            "small_faces": result,
        }
    )
    assert "Labelled pictures shrunk onto face-free frames (3 pictures, 3 MTCNN faces)" in text
    assert "40-80 px one-pass 0.00% / MTCNN 100.00% of 3" in text and ">= 80 px" not in text  # empty sizes left out
    assert "one-pass 0.000 (0.000 of them misplaced around a face, IoU 0.2-0.5), MTCNN 0.000." in text


def test_small_faces_without_labels_is_refused_before_any_work(capsys):
    from distill.cli import main

    assert main(["evaluate-detector", "onepass", "--small-faces"]) != 0
    assert "--small-faces shrinks the --labels pictures: give --labels" in capsys.readouterr().err


def _composite_part() -> dict:
    """The composite part of a result, for tests of the other lines."""
    return {
        "ap_50_per_class": {},
        "paper_004_map_50": 0.3393,
        "map_50": 0.0,
        "map_50_95": 0.0,
        "scenes": 0,
        "faces": 0,
        "recall": 0.0,
        "false_faces_per_scene": 0.0,
        "mtcnn": {"recall": 0.0, "false_faces_per_scene": 0.0},
    }


def test_package_detector_needs_test_labels_or_valid_only(capsys):
    from distill.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["package-detector", "run", "--out", "folder"])
    assert stop.value.code == 1 and "one of the arguments --labels --valid-only is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["package-detector", "run", "--out", "folder", "--labels", "t.parquet", "--valid-only"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_detector_run_resumes_exactly_and_logs_each_step_once(tmp_path, datasets):
    """A run stopped after its checkpoint resumes to the weights of a run never stopped; log rows a
    killed session wrote after its checkpoint are dropped, and the log's clock runs on."""
    import csv

    from distill.onepass.train import DetectorTrainConfig, DetectorTrainer
    from fever.onepass.detector import load_detector

    def config(out, **kw):
        return DetectorTrainConfig(
            out=str(out), data_root=str(datasets), steps=100, batch=2, scene_size=(64, 96), faces_per_scene=(1, 1),
            face_sizes=(24.0, 40.0), real_fraction=0.0, widths=(8, 8, 8, 8), head_width=8, input_scale=1.0,
            warmup_steps=10, threads=1, bf16=False, checkpoint_minutes=0.0, **kw,
        )  # fmt: skip

    straight = load_detector(DetectorTrainer(config(tmp_path / "a")).run())
    DetectorTrainer(config(tmp_path / "b", max_steps=60)).run()
    with (tmp_path / "b" / "steps.csv").open("a") as log:  # a session killed at step 80, after its checkpoint at 60
        log.write("80,9,9,9,9,9,9,0.001,99999.0\n")
    resumed = load_detector(DetectorTrainer(config(tmp_path / "b")).run())
    for name, value in straight.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[name]), name
    with (tmp_path / "b" / "steps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [50, 100]
    assert 0 < float(rows[0]["elapsed_s"]) <= float(rows[1]["elapsed_s"]) < 99999
