"""The shipped training configs: each one loads, names a registered network and writes its own run folder."""

import json
from dataclasses import fields
from pathlib import Path

import pytest

import fever
from distill.config import TrainConfig

CONFIG_DIR = Path(__file__).parents[2] / "distill" / "configs"
CONFIGS = sorted(
    p for p in CONFIG_DIR.glob("*.json") if p.name != "results.json" and not p.name.startswith("detector-")
)
DETECTOR_CONFIGS = sorted(CONFIG_DIR.glob("detector-*.json"))


@pytest.mark.parametrize("path", DETECTOR_CONFIGS, ids=lambda p: p.stem)
def test_detector_configs_load_and_say_why(path: Path) -> None:
    from distill.onepass.train import DetectorTrainConfig

    cfg = DetectorTrainConfig.from_file(path)
    assert cfg.steps > 0 and {"steps", "lr", "labels"} <= set(cfg.reasons)
    assert cfg.out.startswith(("runs/", "runs-chained/")), "run folders go to runs/ or runs-chained/"
    if cfg.out.startswith("runs-chained/"):
        assert "spans sessions" in cfg.reasons.get("out", ""), "a chained run says why it spans sessions"
    default = DetectorTrainConfig()
    changed = {f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(default, f.name)}
    unexplained = sorted(changed - set(cfg.reasons) - {"out", "reasons", "data_root"})
    assert not unexplained, f"{path.name}: settings changed from the defaults without a reason: {unexplained}"


def test_there_are_configs_to_check() -> None:
    assert len(CONFIGS) >= 10
    assert {"student-vgg-s48-scratch.json", "student-vgg-s48-scratch80.json"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_loads_and_names_a_registered_network(path: Path) -> None:
    cfg = TrainConfig.from_file(path)
    assert cfg.model in fever.list_models()
    # runs/ is ignored by git; a run that spans sessions keeps its checkpoint and logs, committed,
    # in runs-chained/ (issue 25), and says so in its reasons
    assert cfg.out.startswith(("runs/", "runs-chained/")), "run folders go to runs/ or runs-chained/"
    if cfg.out.startswith("runs-chained/"):
        assert "chained" in cfg.reasons.get("epochs", ""), "a chained run says why it spans sessions"
    assert cfg.reasons, "every shipped config says why its settings have their values"


def test_no_two_configs_share_a_run_folder() -> None:
    outs = [json.loads(p.read_text())["out"] for p in CONFIGS]
    assert len(outs) == len(set(outs)), "two runs in one folder would resume from each other's checkpoint"
