"""What a config would cost, found before a single weight is allocated (the network built on the
meta device), and refused when it is more than any fever network needs.

A ``config.json`` is input like any other: ``backbone: "vit_h_14"`` would build a 3.2 GB network,
a teacher with 64 dense layers of growth 8192 one of 9.6 GB, all before the weights file is read.
Building on ``torch.device("meta")`` gives every shape for free; the loader then compares them with
the weights file (a network is never larger than the file that fills it), and
:func:`check_budget` holds parameters and per-image activations to :mod:`fever.limits`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import limits
from ..errors import ModelLoadError
from .config import ModelConfig


def known_backbones() -> list[str]:
    """Every trunk a config may name: the paper's FaceNet, the 48-64 px trunks and torchvision's
    classification networks (random weights)."""
    from torchvision import models as tv_models

    from .fer_nets import FER_TRUNKS

    return sorted({"inception_resnet_v1", "resnet101_cbam", *FER_TRUNKS, *tv_models.list_models(module=tv_models)})


def build_meta(config: ModelConfig, build: Callable[[ModelConfig], nn.Module]) -> nn.Module:
    """The network of ``config`` with shapes but no storage.

    Args:
        config: the architecture.
        build: the network's constructor (``FeverModel``; passed in so that this module does not
            import the network that imports it).

    Raises:
        ModelLoadError: the backbone is unknown or the config cannot be built.
    """
    if config.backbone not in known_backbones():
        raise ModelLoadError(
            f"unknown backbone {config.backbone!r}; fever builds the paper's inception_resnet_v1, the 48-64 px "
            "trunks (vgg_s, vgg_m, vgg13_fer, resnet18_fer, resnet10_fer) and torchvision's classification networks"
        )
    try:
        with torch.device("meta"):
            return build(config)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"the config cannot be built ({exc})") from None


def count_activations(model: nn.Module, input_size: int) -> int:
    """Values every layer outputs for one image (meta tensors: nothing is computed or kept)."""
    total = 0

    def hook(_module: torch.nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model.eval().embed(torch.zeros(1, 3, input_size, input_size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total


def check_budget(config: ModelConfig, build: Callable[[ModelConfig], nn.Module]) -> nn.Module:
    """Build ``config`` on the meta device and hold it to the limits.

    Args:
        config: the architecture.
        build: the network's constructor (``FeverModel``).

    Returns:
        The meta network (its ``state_dict()`` gives the shapes the weights file must have).

    Raises:
        ModelLoadError: naming what is over which limit.
    """
    meta = build_meta(config, build)
    params = sum(p.numel() for p in meta.parameters())
    if params > limits.MAX_PARAMETERS:
        raise ModelLoadError(
            f"the config builds a network of {params:,} parameters ({params * 4 / 2**30:.1f} GB in fp32), over the "
            f"limit of {limits.MAX_PARAMETERS:,} (fever.limits.MAX_PARAMETERS)"
        )
    acts = count_activations(meta, config.preprocess.input_size)
    if acts > limits.MAX_ACTIVATIONS:
        raise ModelLoadError(
            f"the config's network outputs {acts:,} values per {config.preprocess.input_size} px image "
            f"({acts * 4 / 2**30:.1f} GB in fp32), over the limit of {limits.MAX_ACTIVATIONS:,} "
            "(fever.limits.MAX_ACTIVATIONS)"
        )
    return meta
