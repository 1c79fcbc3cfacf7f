"""Building models: joins the registry (names), the network (architecture) and the hub (files).

timm's ``_factory``: :func:`create_model` builds a preset, :func:`load` a trained model from a
preset with bundled weights, a folder or a Hub repo id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .budget import check_budget
from .network import FeverModel
from .registry import get_config


def create_model(
    model_name: str, pretrained: bool = False, backbone_weights: str | None = None, **overrides: Any
) -> FeverModel:
    """Build a preset, with random weights or its bundled ones.

    Args:
        model_name: a name of :func:`fever.list_models`.
        pretrained: load the bundled weights (no overrides allowed then).
        backbone_weights: ``"vggface2"`` starts a paper teacher's trunk from FaceNet.
        **overrides: config fields (``d_face=128``) or preprocessing (``input_size=112``).

    Returns:
        The model (training mode when built, eval mode when loaded).
    """
    if pretrained:
        if overrides or backbone_weights:
            raise ValueError("pretrained=True loads the stored config; overrides would not match the weights")
        return load(model_name)
    config = get_config(model_name, **overrides)
    check_budget(config, FeverModel)  # on the meta device: an override asking for 9.6 GB is refused before it is built
    return FeverModel(config, backbone_weights=backbone_weights)


def load(
    name_or_path: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool | None = None,
    device: str | torch.device = "cpu",
) -> FeverModel:
    """Load a fever model in eval mode from a preset name, a folder or a Hub repo id.

    Args:
        name_or_path: preset with bundled weights, model folder, or ``owner/name`` on the Hub.
        revision: Hub branch, tag or commit.
        cache_dir: Hugging Face cache folder.
        local_files_only: use the cache only; ``None`` follows ``HF_HUB_OFFLINE``.
        device: where to put the model.

    Returns:
        The model, with ``model.origin`` saying where its files came from.

    Example::

        model = fever.load("fever-student-vgg-s48")             # bundled weights
        model = fever.load("org/fever-model", revision="v1.0")   # Hub, cached
    """
    return FeverModel.from_pretrained(
        name_or_path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, device=device
    )
