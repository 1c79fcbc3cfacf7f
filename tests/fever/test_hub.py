"""The Hub round trip through huggingface_hub's real cache and offline code path."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import fever
from fever.models.hub import CONFIG_NAME, WEIGHTS_NAME
from tests.helpers import SAMPLES


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_pretrained_writes_hub_folder(tmp_path):
    model = fever.create_model("fever-student-mobilenetv3", d_face=128)
    folder = model.save_pretrained(
        tmp_path / "m", metrics={"FER+ test accuracy": 0.5}, training={"steps": 10, "wall-clock hours": 0.82}
    )
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", CONFIG_NAME, WEIGHTS_NAME]
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["d_face"] == 128 and config["preprocess"]["input_size"] == 64
    card = (folder / "README.md").read_text()
    assert "library_name: fever" in card and "| FER+ test accuracy | 50.00% |" in card
    assert "| wall-clock hours | 0.82 |" in card  # a training record is not a fraction
    assert "mobilenet_v3_large" in card and "research" in card and "Limitations" in card
    loaded = fever.load(folder)
    assert loaded.config == model.config and _same_weights(loaded, model)
    assert not loaded.training


def _build_hub_cache(cache: Path, repo_id: str, folder: Path, commit: str, ref: str = "main") -> Path:
    """The layout huggingface_hub itself writes: blobs by hash, snapshots by commit, refs by name."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME, "README.md"):
        data = (folder / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(Path("../..") / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


def test_load_from_hub_cache_offline_with_revisions(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    other = fever.create_model("fever-student-resnet18", input_size=48, name="tiny-test-student")
    other_dir = other.save_pretrained(tmp_path / "v2")
    _build_hub_cache(cache, "fever-org/tiny", tiny_model_dir, "a" * 40, ref="main")
    _build_hub_cache(cache, "fever-org/tiny", other_dir, "b" * 40, ref="v2")
    main = fever.load("fever-org/tiny", cache_dir=cache)
    assert main.origin.source == "hf:fever-org/tiny@main"
    assert _same_weights(main, fever.load(tiny_model_dir))
    pinned = fever.load("fever-org/tiny", revision="b" * 40, cache_dir=cache)
    tagged = fever.load("fever-org/tiny", revision="v2", cache_dir=cache)
    assert _same_weights(pinned, other) and _same_weights(tagged, other)
    assert not _same_weights(main, other)


def test_hub_missing_file_offline_is_clear(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    snapshot = _build_hub_cache(cache, "fever-org/broken", tiny_model_dir, "c" * 40)
    (snapshot / WEIGHTS_NAME).unlink()
    with pytest.raises(
        fever.OfflineError, match=r"fever-org/broken@main: model.safetensors is not in .* and HF_HUB_OFFLINE is set"
    ):
        fever.load("fever-org/broken", cache_dir=cache)
    with pytest.raises(fever.OfflineError, match="fever-org/absent@main: config.json"):
        fever.load("fever-org/absent", cache_dir=cache)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(fever.OfflineError, match="local_files_only=True was passed, so the Hub was not asked"):
        fever.load("fever-org/broken", cache_dir=cache, local_files_only=True)


def test_without_network_a_cached_model_loads_and_a_missing_one_fails_at_once(tmp_path, monkeypatch, tiny_model_dir):
    """No HF_HUB_OFFLINE and no network (a port that refuses): the cache is read without asking the
    Hub, and a file that is not cached fails after one request, not after huggingface_hub's retries."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    cache = tmp_path / "hub"
    _build_hub_cache(cache, "fever-org/tiny", tiny_model_dir, "a" * 40)
    asked = []
    real = huggingface_hub.get_hf_file_metadata
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda *a, **k: asked.append(a) or real(*a, **k))
    assert fever.load("fever-org/tiny", cache_dir=cache).origin.source == "hf:fever-org/tiny@main"
    assert asked == []
    downloads = []
    real_download = huggingface_hub.hf_hub_download
    monkeypatch.setattr(
        huggingface_hub,
        "hf_hub_download",
        lambda *a, **k: downloads.append(k["local_files_only"]) or real_download(*a, **k),
    )
    with pytest.raises(fever.OfflineError) as err:
        fever.load("fever-org/absent", cache_dir=cache)
    message = str(err.value)
    assert "config.json is not in" in message and "the Hugging Face Hub cannot be reached" in message
    assert "HF_HUB_OFFLINE=1 to use the cache only" in message and "huggingface-cli" not in message
    assert len(asked) == 1 and downloads == [True, True]  # one request, no download attempt, no retries


@pytest.fixture()
def copy_of(tmp_path, tiny_model_dir):
    target = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_missing_weights_file(copy_of):
    (copy_of / WEIGHTS_NAME).unlink()
    with pytest.raises(fever.ModelLoadError, match=r"model.safetensors: missing"):
        fever.load(copy_of)


def test_missing_config_file(copy_of):
    (copy_of / CONFIG_NAME).unlink()
    with pytest.raises(fever.ModelLoadError, match=r"config.json: missing"):
        fever.load(copy_of)


def test_truncated_safetensors(copy_of):
    data = (copy_of / WEIGHTS_NAME).read_bytes()
    (copy_of / WEIGHTS_NAME).write_bytes(data[: len(data) // 2])
    with pytest.raises(fever.ModelLoadError, match="corrupt or truncated safetensors"):
        fever.load(copy_of)


def test_garbage_safetensors(copy_of):
    (copy_of / WEIGHTS_NAME).write_bytes(b"\x00" * 100)
    with pytest.raises(fever.ModelLoadError, match="corrupt or truncated"):
        fever.load(copy_of)


def test_config_that_does_not_match_weights(copy_of):
    config = json.loads((copy_of / CONFIG_NAME).read_text())
    config["d_face"] = 128
    (copy_of / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(fever.ModelLoadError, match=r"config.json does not match model.safetensors: .*shapes differ"):
        fever.load(copy_of)


def test_edited_preprocessing_is_noticed(copy_of):
    config = json.loads((copy_of / CONFIG_NAME).read_text())
    config["preprocess"]["input_size"] = 96
    (copy_of / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(fever.ModelLoadError, match="config hash"):
        fever.load(copy_of)


def test_invalid_config_json(copy_of):
    (copy_of / CONFIG_NAME).write_text("{not json")
    with pytest.raises(fever.ModelLoadError, match="not a valid fever config"):
        fever.load(copy_of)


def test_unknown_names_and_paths():
    with pytest.raises(fever.ModelLoadError, match="neither a registered model"):
        fever.load("no-such-model")
    with pytest.raises(fever.ModelLoadError, match="no such model folder"):
        fever.load("./no/such/folder")


def test_preset_without_bundled_weights_says_so():
    with pytest.raises(fever.ModelLoadError, match="has no bundled weights"):
        fever.load("deepfever-teacher-256")


def test_no_pickle_files_are_read(tiny_model_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load must not be called")

    monkeypatch.setattr(torch, "load", refuse)
    assert fever.load(tiny_model_dir).config.name == "tiny-test-student"


def test_save_pretrained_keeps_shipped_probes_and_the_stored_dtype(model_with_probe, tmp_path, fer_crops):
    """A model loaded with its probe and saved elsewhere can still analyze; fp16 stays fp16."""
    import torch

    fp16 = fever.load(model_with_probe).save_pretrained(tmp_path / "half", dtype=torch.float16)
    model = fever.load(fp16)
    assert model.origin.dtype == "float16" and model.origin.folder == fp16
    again = model.save_pretrained(tmp_path / "again")  # no dtype given: as loaded
    assert fever.load(again).origin.dtype == "float16"
    assert (again / "probes" / "logistic" / "probe.json").is_file()
    out = fever.analyze(fer_crops[:2], model=str(again))
    assert out.probabilities.shape == (2, len(out.classes)) and np.isfinite(out.probabilities).all()
    built = fever.create_model("fever-student-vgg-s48")  # built in memory: fp32, no probe
    assert built.origin is None
    assert fever.load(built.save_pretrained(tmp_path / "fresh")).origin.dtype == "float32"
    assert not (tmp_path / "fresh" / "probes").exists()


def test_saved_files_follow_the_umask(tmp_path):
    """Models, probes and index folders are readable by others under umask 022, like any file."""
    import os
    import stat

    import probes

    old = os.umask(0o022)
    try:
        model = fever.create_model("fever-student-vgg-s48").save_pretrained(tmp_path / "m")
        probe = (
            probes.create("logistic").fit(np.random.default_rng(0).random((20, 4)), [0, 1] * 10).save(tmp_path / "p")
        )
        index = fever.Index.build(np.random.default_rng(0).random((50, 8)).astype(np.float32)).save(tmp_path / "i")
    finally:
        os.umask(old)
    for path in [model, probe, index, *model.iterdir(), *probe.iterdir(), *index.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_a_weights_file_without_its_config_hash_is_refused(copy_of):
    """Dropping fever_config_hash from the header must not switch the edited-config check off."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(copy_of / WEIGHTS_NAME))
    save_file(tensors, str(copy_of / WEIGHTS_NAME), metadata={"format": "pt"})
    with pytest.raises(fever.ModelLoadError, match="carries no fever_config_hash"):
        fever.load(copy_of)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("d_face", 200_000_000, "d_face must be a whole number from 1 to 8,192"),
        ("num_classes", -1, "num_classes must be a whole number"),
        (("preprocess", "input_size"), 100_000, "input_size must be a whole number from 16 to 1024"),
        (("preprocess", "std"), [0, 0.5, 0.5], "std must be finite and above 0"),
        (("preprocess", "margin"), -0.5, "margin must be from -0.4 to 1.0"),
        (("preprocess", "max_rotation"), float("nan"), "max_rotation must be from 0 to 90"),
    ],
)
def test_absurd_config_values_are_refused_before_building(copy_of, field, value, message):
    """A config.json that asks for a 409 GB network or a division by zero fails at once, naming the file."""
    config = json.loads((copy_of / CONFIG_NAME).read_text())
    if isinstance(field, tuple):
        config[field[0]][field[1]] = value
    else:
        config[field] = value
    (copy_of / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(fever.ModelLoadError, match=f"{CONFIG_NAME}: not a valid fever config: .*{message}"):
        fever.load(copy_of)


def test_preprocessing_settings_are_checked_when_made():
    from fever.preprocess import PreprocessConfig

    with pytest.raises(ValueError, match="interpolation must be"):
        PreprocessConfig(interpolation="lanczos9")
    assert PreprocessConfig(input_size=48, margin=-0.05).margin == -0.05


def test_cli_without_network_says_it_once(tmp_path):
    """A user without network and without HF_HUB_OFFLINE sees one clear error line, printed once,
    naming the repo and what to do; no retry warnings, no line twice (issue 17)."""
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9", OMP_NUM_THREADS="1")
    out = tmp_path / "v.parquet"
    cmd = [sys.executable, "-m", "fever.cli.embed", str(SAMPLES), "--model", "fever-org/absent", "--out", str(out)]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and not out.exists()
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), run.stderr
    errors = [line for line in lines if "fever-org/absent" in line]
    assert len(errors) == 1 and "the Hugging Face Hub cannot be reached" in errors[0], run.stderr
    assert "hf download fever-org/absent" in errors[0] and "huggingface-cli" not in run.stderr
    assert "retry" not in run.stderr.lower() and "offline mode" not in run.stderr.lower()


def test_weights_with_nan_values_are_refused_naming_the_tensor(copy_of):
    """Issue 26.8: NaN bytes inside a valid safetensors file gave all-NaN vectors with status ok."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(copy_of / WEIGHTS_NAME), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(copy_of / WEIGHTS_NAME))
    name = sorted(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 10)[0]
    tensors[name].view(-1)[3] = float("nan")
    tensors[name].view(-1)[5] = float("inf")
    save_file(tensors, str(copy_of / WEIGHTS_NAME), metadata=metadata)
    with pytest.raises(fever.ModelLoadError, match=f"tensor '{name}' holds 2 NaN or infinite values of"):
        fever.load(copy_of)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"backbone": "nonet"}, "config.json: unknown backbone 'nonet'"),
        ({"backbone": "vit_h_14"}, "config.json: the config cannot be built"),
        ({"backbone": "resnet152"}, "does not match model.safetensors"),  # buildable, but not these weights
    ],
)
def test_configs_naming_other_or_huge_networks_are_refused_before_building(copy_of, change, message, monkeypatch):
    """Issue 26.15: the network is built on the meta device and checked against the file first."""
    from fever.models import network

    config = json.loads((copy_of / CONFIG_NAME).read_text())
    (copy_of / CONFIG_NAME).write_text(json.dumps({**config, **change}))
    built = []
    monkeypatch.setattr(network.FeverModel, "load_state_dict", lambda *a, **k: built.append(1))
    with pytest.raises(fever.ModelLoadError, match=message):
        fever.load(copy_of)
    assert built == []  # refused before a real network took any memory


def test_a_budget_holds_parameters_and_activations_before_allocation(monkeypatch):
    """64 dense layers of growth 8192 would be 697 G parameters; nothing is allocated to find out."""
    import resource

    from fever import limits

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(fever.ModelLoadError, match=r"697,040,166,440 parameters .* over the limit of 300,000,000"):
        fever.create_model("fever-teacher-112", dense_layers=64, growth_rate=8192)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: under 200 MB more
    monkeypatch.setattr(limits, "MAX_ACTIVATIONS", 10_000)
    with pytest.raises(fever.ModelLoadError, match=r"outputs [\d,]+ values per 48 px image .*MAX_ACTIVATIONS"):
        fever.create_model("fever-student-vgg-s48")


def test_an_empty_model_name_is_refused_not_read_as_the_default():
    """Issue 26.7: --model "" used the default model in silence (and Path("") is the current folder)."""
    from fever.cli.embed import main

    with pytest.raises(fever.UnknownModelError, match="the model name is empty"):
        fever.load("")
    assert main([str(SAMPLES / "ferplus_anger_fer0032225.png"), "--out", "/tmp/never.parquet", "--model", ""]) == 1
