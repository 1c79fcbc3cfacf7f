"""Model files on disk and on the Hugging Face Hub: ``config.json`` + ``model.safetensors`` + card.

This module only finds, reads, checks and writes files (timm's ``_hub``): :func:`resolve` turns a
preset name (bundled weights), a local folder or a Hub repo id into a folder, honouring
``revision``, ``cache_dir``, ``local_files_only`` and ``HF_HUB_OFFLINE``; :func:`save_pretrained`
writes a folder ready for ``hf upload``. Building networks is :mod:`fever.models.network`'s job and
joining the two :mod:`fever.models.factory`'s. Weights are read from safetensors only: nothing is
ever unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import ModelLoadError, OfflineError, UnknownModelError
from .config import ModelConfig
from .registry import bundled_weights_dir, is_registered, list_models

if TYPE_CHECKING:
    from .network import FeverModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
# probes shipped with a model (e.g. the logistic expression probe of fever.analyze) live here
PROBES_DIR = "probes"


@dataclass(frozen=True)
class ModelOrigin:
    """Where a loaded model's files came from.

    ``source``: ``bundled:NAME``, a folder path, or ``hf:REPO@REVISION``; ``folder``: the folder that
    holds the files (and any shipped probes); ``revision``: the Hub revision asked for, else the fever
    version that saved the weights; ``dtype``: the floating type the weights were stored in.
    """

    source: str
    folder: Path
    revision: str = ""
    dtype: str = "float32"


def save_pretrained(
    model: "FeverModel",
    save_directory: str | Path,
    *,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    card_template: str | None = None,
    dtype: torch.dtype | None = None,
    comparison: str | None = None,
) -> Path:
    """Write a Hub model folder (config, weights, card, and the probes the model came with).

    Args:
        model: the network to save.
        save_directory: the folder to write (created if needed).
        metrics: measured figures for the card.
        training: the training record for the card.
        card_template: a template instead of ``hub_cards/fever-model.md``.
        dtype: floating type of the stored tensors; by default the type the model was loaded from
            (fp16 for the bundled models), else fp32. Loading always casts back to fp32.
        comparison: a markdown table of related runs for the card.

    Returns:
        The folder.
    """
    from safetensors.torch import save

    from .. import __version__
    from ..cards import render_model_card

    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    origin = model.origin
    if dtype is None:
        dtype = getattr(torch, origin.dtype) if origin is not None else torch.float32
    cfg = model.config
    config = cfg.to_dict()
    config["library"] = {"name": "fever", "version": __version__}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    # safetensors' save_file creates the file 0600; bytes written with open() follow the umask like
    # the other files of the folder
    blob = save(state, metadata={"format": "pt", "fever_config_hash": cfg.config_hash(), "fever_version": __version__})
    (folder / WEIGHTS_NAME).write_bytes(blob)
    card = render_model_card(
        cfg,
        metrics=metrics,
        training=training,
        template=card_template,
        comparison=comparison,
        num_parameters=sum(p.numel() for p in model.parameters()),
    )
    (folder / CARD_NAME).write_text(card)
    # the probes fitted on this model's vectors stay valid for the same weights: they travel along
    shipped = origin.folder / PROBES_DIR if origin is not None else None
    if shipped is not None and shipped.is_dir() and shipped.resolve() != (folder / PROBES_DIR).resolve():
        shutil.copytree(shipped, folder / PROBES_DIR, dirs_exist_ok=True)
    return folder


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_files(repo_id: str, revision: str | None, cache_dir: str | Path | None, offline: bool, why: str) -> Path:
    """Config + weights of a Hub repo, from the cache when they are there (no network at all), else
    downloaded; returns their snapshot folder.

    ``offline`` (and ``why``: what made it so) forbids the network. Before a download, one quick
    request tells whether the Hub answers: huggingface_hub alone retries a dead network for about
    30 s and then blames an offline mode that nobody set.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}@{revision or 'main'}"
    cache = cache_dir or "the default Hugging Face cache"
    not_found = (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError, HFValidationError)

    def fetch(filename: str, local_only: bool) -> Path:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=local_only,
                library_name="fever",
            )
        )

    paths: dict[str, Path] = {}
    for filename in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            paths[filename] = fetch(filename, local_only=True)
        except LocalEntryNotFoundError:
            pass
        except not_found as exc:
            raise ModelLoadError(f"{where}: cannot get {filename}: {exc}") from exc
    missing = [f for f in (CONFIG_NAME, WEIGHTS_NAME) if f not in paths]
    if missing and offline:
        raise OfflineError(
            f"{where}: {missing[0]} is not in {cache} and {why}, so the Hub was not asked. Download the model "
            f"once with network access (`hf download {repo_id}`), or pass a local folder instead."
        )
    if missing:
        try:
            get_hf_file_metadata(hf_hub_url(repo_id, missing[0], revision=revision), timeout=10)
        except not_found as exc:
            raise ModelLoadError(f"{where}: cannot get {missing[0]}: {exc}") from exc
        except Exception as exc:  # connection refused, DNS, timeout, proxy: the network, not the repo
            raise OfflineError(
                f"{where}: {missing[0]} is not in {cache} and the Hugging Face Hub cannot be reached "
                f"({type(exc).__name__}: {exc}). Download the model once with network access "
                f"(`hf download {repo_id}`), or set HF_HUB_OFFLINE=1 to use the cache only."
            ) from None
        for filename in missing:
            try:
                paths[filename] = fetch(filename, local_only=False)
            except not_found as exc:
                raise ModelLoadError(f"{where}: cannot get {filename}: {exc}") from exc
    return paths[CONFIG_NAME].parent


def resolve(
    name_or_path: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
) -> tuple[Path, str]:
    """Find the folder that holds a model; returns it and a human-readable source."""
    text = str(name_or_path)
    if not text.strip():
        # Path("") is the current folder: an empty name must not load whatever lies there
        raise UnknownModelError(
            f"the model name is empty ({text!r}); give a registered name, a model folder or a Hub repo id "
            f"(owner/name), or leave it out for the default. Registered: {', '.join(list_models())}"
        )
    path = Path(text).expanduser()
    if path.is_dir():
        return path, str(path.resolve())
    if is_registered(text):
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
        raise UnknownModelError(
            f"{text!r} is neither a registered model, a folder nor a Hub repo id (owner/name); "
            f"registered: {', '.join(list_models())}"
        )
    if local_files_only is None:
        offline, why = _env_offline(), "HF_HUB_OFFLINE is set"
    else:
        offline, why = local_files_only, "local_files_only=True was passed"
    return _hub_files(text, revision, cache_dir, offline, why), f"hf:{text}@{revision or 'main'}"


def _bundled_names() -> list[str]:
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
        raise ModelLoadError(
            f"{file}: corrupt or truncated safetensors file ({exc}); download or save it again"
        ) from exc
    check_finite(tensors, file)
    return tensors, metadata


def check_finite(tensors: dict[str, torch.Tensor], file: Path | str) -> None:
    """Refuse weights with NaN or infinite values: a valid file can carry them (damaged bytes inside
    a tensor, a diverged training run), and they give all-NaN vectors with status ok.

    Raises:
        ModelLoadError: naming the file, the first bad tensor and how many of its values are bad.
    """
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ModelLoadError(
                f"{file}: tensor {key!r} holds {bad} NaN or infinite values of {tensor.numel()}; "
                "the weights are damaged: download or save them again"
            )


def stored_dtype(tensors: dict[str, torch.Tensor]) -> str:
    """The floating type of a file's tensors (``float16`` for the bundled models)."""
    kinds = {str(t.dtype).replace("torch.", "") for t in tensors.values() if t.is_floating_point()}
    return kinds.pop() if len(kinds) == 1 else "float32"


def check_weights_fit(
    expected: dict[str, torch.Tensor],
    config: ModelConfig,
    tensors: dict[str, torch.Tensor],
    metadata: dict[str, str],
    folder: Path,
) -> None:
    """Refuse weights that were saved for another config, naming the first differences.

    Args:
        expected: the state dict of the network that ``config`` builds.
        config: the folder's config.
        tensors, metadata: what :func:`read_weights` read.
        folder: named in the error.
    """
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: config wants {tuple(expected[k].shape)}, file has {tuple(tensors[k].shape)}"
        for k in expected
        if k in tensors and expected[k].shape != tensors[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
    if extra:
        problems.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
    if wrong:
        problems.append(f"{len(wrong)} shapes differ (e.g. {wrong[0]})")
    saved_hash = metadata.get("fever_config_hash")
    if not problems and not saved_hash:
        problems.append(
            f"{WEIGHTS_NAME} carries no fever_config_hash (fever's save_pretrained always writes one: the header "
            "was edited or the file comes from elsewhere), so nothing proves it belongs to this config"
        )
    elif not problems and saved_hash != config.config_hash():
        problems.append(
            f"the weights were saved with config hash {saved_hash}, config.json hashes to "
            f"{config.config_hash()} (was config.json edited?)"
        )
    if problems:
        raise ModelLoadError(f"{folder}: {CONFIG_NAME} does not match {WEIGHTS_NAME}: " + "; ".join(problems))
