"""Feature-map trunks: the FaceNet cut of the teachers and any torchvision backbone for students."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tv_models
from torchvision.models.densenet import _DenseBlock

from ..errors import ModelLoadError, OfflineError
from .cbam import resnet101_cbam_features

# facenet-pytorch's published VGGFace2 weights (a pickled state dict on GitHub releases).
VGGFACE2_URL = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"
FACENET_CUT = "repeat_2"
FACENET_CUT_CHANNELS = 896


def facenet_trunk() -> nn.Sequential:
    """facenet-pytorch ``InceptionResnetV1`` up to and including ``repeat_2``.

    DeepFEVER (after FECNet [8]) cuts FaceNet after GoogLeNet's "Inception 4e": the last block of
    the stage that runs at 1/16 resolution, just before the stride-2 reduction into stage 5.
    facenet-pytorch's FaceNet is Inception-ResNet-v1, whose matching place is the end of the
    17x17 stage: ``repeat_2`` (10 x Block17, 896 channels, 7x7 at 140 px), just before
    ``mixed_7a`` (Reduction-B). Everything after it (``mixed_7a`` onwards) is dropped.
    """
    from facenet_pytorch import InceptionResnetV1

    full = InceptionResnetV1(pretrained=None, classify=False)
    layers: list[tuple[str, nn.Module]] = []
    for name, module in full.named_children():
        layers.append((name, module))
        if name == FACENET_CUT:
            break
    return nn.Sequential(OrderedDict(layers))


def _vggface2_safetensors_path() -> Path:
    home = Path(os.environ.get("FEVER_HOME", Path.home() / ".cache" / "fever"))
    return home / "facenet-vggface2-trunk.safetensors"


def load_vggface2_weights(trunk: nn.Sequential) -> None:
    """Start the teacher trunk from facenet-pytorch's VGGFace2 FaceNet.

    The published file is a pickled state dict; it is read once with ``torch.load(weights_only=True)``
    (PyTorch's restricted loader that builds tensors only and runs no code from the file), converted
    to safetensors in ``$FEVER_HOME`` and from then on read as safetensors only.
    """
    from safetensors.torch import load_file, save_file

    target = _vggface2_safetensors_path()
    if not target.exists():
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(VGGFACE2_URL).name
        if not cached.exists():
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(VGGFACE2_URL, str(cached), progress=False)
            except Exception as exc:  # network errors come in many types
                raise OfflineError(
                    "backbone_weights='vggface2' needs facenet-pytorch's VGGFace2 weights and they "
                    f"could not be downloaded ({type(exc).__name__}: {exc}). Either run once with "
                    f"internet access, or download {VGGFACE2_URL} elsewhere and copy it to {cached}, "
                    "or pass backbone_weights=None to start from random weights."
                ) from exc
        state = torch.load(cached, map_location="cpu", weights_only=True)
        keep = {k: v.contiguous() for k, v in state.items() if k.split(".")[0] in dict(trunk.named_children())}
        target.parent.mkdir(parents=True, exist_ok=True)
        save_file(keep, str(target))
    missing, unexpected = trunk.load_state_dict(load_file(str(target)), strict=False)
    if missing:
        raise ModelLoadError(f"{target} does not hold the FaceNet trunk: missing {missing[:5]}...")


def facenet_expression_trunk(
    growth_rate: int = 64, dense_layers: int = 5, bottleneck: int = 512
) -> tuple[nn.Sequential, int]:
    """The teacher body of Fig. 1 after the FaceNet cut: 1x1 conv+BN+ReLU, then the dense block.

    "Five DenseNet blocks" in DeepFEVER follow FECNet [8], whose DenseNet part is one dense block
    of five densely connected (BN-ReLU-1x1-BN-ReLU-3x3) layers with growth rate 64 after a 512-filter
    1x1 conv: 512 + 5 x 64 = 832 channels come out.
    """
    from .heads import ConvBNReLU

    body = nn.Sequential(
        ConvBNReLU(FACENET_CUT_CHANNELS, bottleneck),
        _DenseBlock(
            num_layers=dense_layers, num_input_features=bottleneck, bn_size=4, growth_rate=growth_rate, drop_rate=0.0
        ),
    )
    return body, bottleneck + dense_layers * growth_rate


def torchvision_trunk(name: str) -> tuple[nn.Module, int]:
    """A torchvision classification network without its pooling and classifier.

    Works for the families whose feature map is ``.features`` (DenseNet, MobileNet, EfficientNet,
    ConvNeXt, VGG) or ``conv1 .. layer4`` (ResNet, ResNeXt, Wide ResNet), plus ``resnet101_cbam``.
    Returns the trunk and its number of output channels.
    """
    if name == "resnet101_cbam":
        return resnet101_cbam_features()
    try:
        net = tv_models.get_model(name, weights=None)
    except ValueError as exc:
        raise ValueError(f"unknown torchvision backbone {name!r}: {exc}") from exc
    if hasattr(net, "layer4"):
        trunk: nn.Module = nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
        )
    elif hasattr(net, "features"):
        # DenseNet's forward applies the last ReLU outside `.features`.
        trunk = nn.Sequential(net.features, nn.ReLU(inplace=True)) if name.startswith("densenet") else net.features
    else:
        raise ValueError(f"torchvision backbone {name!r} has neither .features nor .layer4")
    with torch.no_grad():
        channels = int(trunk.eval()(torch.zeros(1, 3, 64, 64)).shape[1])
    trunk.train()
    return trunk, channels
