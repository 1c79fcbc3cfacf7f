"""Weights on disk and on the Hugging Face Hub: ``config.json`` + ``model.safetensors`` + card.

Mirrors ``PyTorchModelHubMixin``: ``save_pretrained(dir)`` writes a folder ready for
``huggingface-cli upload``; :func:`load` takes a preset name (bundled weights), a local folder or a
Hub repo id, honours ``revision``, ``cache_dir``, ``local_files_only`` and ``HF_HUB_OFFLINE``.
Weights are read from safetensors only: nothing is ever unpickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .errors import ModelLoadError, OfflineError
from .models.config import ModelConfig
from .models.network import FeverModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"


def save_pretrained(model: FeverModel, save_directory: str | Path, *, metrics: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None, card_template: str | None = None,
                    dtype: torch.dtype | None = None, comparison: str | None = None) -> Path:
    """Write the three files of a Hub model folder and return the folder.

    ``dtype=torch.float16`` halves the file (floating tensors only); loading casts back to fp32.
    ``comparison``: a markdown table of related runs (e.g. the paper's ablation) for the card.
    """
    from safetensors.torch import save_file

    from . import __version__
    from .cards import render_model_card

    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    config = cfg.to_dict()
    config["library"] = {"name": "fever", "version": __version__}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(folder / WEIGHTS_NAME),
              metadata={"format": "pt", "fever_config_hash": cfg.config_hash(), "fever_version": __version__})
    card = render_model_card(cfg, metrics=metrics, training=training, template=card_template, comparison=comparison,
                             num_parameters=sum(p.numel() for p in model.parameters()))
    (folder / CARD_NAME).write_text(card)
    return folder


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_files(repo_id: str, revision: str | None, cache_dir: str | Path | None,
               local_files_only: bool) -> Path:
    """Fetch (or find in the cache) config + weights of a Hub repo; return their snapshot folder."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{repo_id}@{revision or 'main'}"
    paths = []
    for filename in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            paths.append(Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir,
                                              local_files_only=local_files_only,
                                              library_name="fever")))
        except LocalEntryNotFoundError as exc:
            raise OfflineError(
                f"{where}: {filename} is not in the Hugging Face cache "
                f"({cache_dir or 'default cache'}) and the Hub cannot be reached "
                f"(offline: local_files_only or HF_HUB_OFFLINE=1). Download it once with network access "
                f"(e.g. `huggingface-cli download {repo_id}`), or pass a local folder instead."
            ) from exc
        except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError, HFValidationError) as exc:
            raise ModelLoadError(f"{where}: cannot get {filename}: {exc}") from exc
    return paths[0].parent


def resolve(name_or_path: str | Path, revision: str | None = None, cache_dir: str | Path | None = None,
            local_files_only: bool | None = None) -> tuple[Path, str]:
    """Find the folder that holds a model; returns it and a human-readable source."""
    from .models.registry import _REGISTRY, bundled_weights_dir

    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return path, str(path.resolve())
    if text in _REGISTRY:
        folder = bundled_weights_dir(text)
        if folder is None:
            raise ModelLoadError(
                f"model {text!r} has no bundled weights; fever.create_model({text!r}) builds it with "
                f"random weights, or pass a trained folder or Hub repo id. Bundled: "
                f"{', '.join(_bundled_names()) or 'none'}"
            )
        return folder, f"bundled:{text}"
    if path.suffix or path.exists() or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"{text}: no such model folder (expected a folder with {CONFIG_NAME} and {WEIGHTS_NAME})")
    if "/" not in text:
        raise ModelLoadError(f"{text!r} is neither a registered model, a folder nor a Hub repo id (owner/name)")
    offline = _env_offline() if local_files_only is None else local_files_only
    return _hub_files(text, revision, cache_dir, offline), f"hf:{text}@{revision or 'main'}"


def _bundled_names() -> list[str]:
    from .models.registry import list_models

    return list_models(pretrained=True)


def read_config(folder: Path) -> ModelConfig:
    file = folder / CONFIG_NAME
    if not file.is_file():
        raise ModelLoadError(f"{file}: missing; a fever model folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        return ModelConfig.from_dict(json.loads(file.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{file}: not a valid fever config: {exc}") from exc


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    file = folder / WEIGHTS_NAME
    if not file.is_file():
        raise ModelLoadError(f"{file}: missing; a fever model folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # SafetensorError, OSError, ValueError depending on the damage
        raise ModelLoadError(f"{file}: corrupt or truncated safetensors file ({exc}); download or save it again") from exc
    return tensors, metadata


def check_weights_fit(model: FeverModel, tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                      folder: Path) -> None:
    """Refuse weights that were saved for another config, naming the first differences."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [f"{k}: config wants {tuple(expected[k].shape)}, file has {tuple(tensors[k].shape)}"
             for k in expected if k in tensors and expected[k].shape != tensors[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
    if extra:
        problems.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
    if wrong:
        problems.append(f"{len(wrong)} shapes differ (e.g. {wrong[0]})")
    saved_hash = metadata.get("fever_config_hash")
    if not problems and saved_hash and saved_hash != model.config.config_hash():
        problems.append(f"the weights were saved with config hash {saved_hash}, config.json hashes to "
                        f"{model.config.config_hash()} (was config.json edited?)")
    if problems:
        raise ModelLoadError(f"{folder}: {CONFIG_NAME} does not match {WEIGHTS_NAME}: " + "; ".join(problems))


def load(name_or_path: str | Path, revision: str | None = None, cache_dir: str | Path | None = None,
         local_files_only: bool | None = None, device: str | torch.device = "cpu") -> FeverModel:
    """Load a fever model in eval mode from a preset name, a folder or a Hub repo id.

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE``. Example::

        model = fever.load("fever-student-resnet18")            # bundled weights
        model = fever.load("org/fever-model", revision="v1.0")   # Hub, cached
    """
    folder, source = resolve(name_or_path, revision, cache_dir, local_files_only)
    config = read_config(folder)
    tensors, metadata = read_weights(folder)
    model = FeverModel(config)
    check_weights_fit(model, tensors, metadata, folder)
    model.load_state_dict(tensors, strict=True)
    model.source = source  # type: ignore[attr-defined]
    model.folder = folder  # type: ignore[attr-defined]
    model.revision = revision or metadata.get("fever_version", "")  # type: ignore[attr-defined]
    return model.to(device).eval()
