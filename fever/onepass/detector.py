"""Frames in, faces out: the one-pass network with its preprocessing and decoding.

:func:`prepare` is the one preprocessing of the network (training uses it too): RGB uint8 frames
to [0, 1] tensors, scaled by ``input_scale`` and padded to the trunk's stride. Boxes and
landmarks come back in the frame's own pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..device import autocast_for
from .coding import OnePassFace, decode
from .network import OUTPUT_STRIDE, OnePassConfig, OnePassNet, pad_to_stride

if TYPE_CHECKING:
    from ..detect import Detection


def prepare(frames: Sequence[np.ndarray], config: OnePassConfig) -> torch.Tensor:
    """Frames of one size (H, W, 3) uint8 -> the network's input (N, 3, H', W'), in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).permute(0, 3, 1, 2).float().div_(255.0)
    if config.input_scale != 1.0:
        x = F.interpolate(x, scale_factor=config.input_scale, mode="bilinear", antialias=True, align_corners=False)
    return pad_to_stride(x)


class OnePassDetector:
    """Every face of a frame and its expression, from one forward pass.

    Args:
        net: a trained :class:`OnePassNet` (its config gives the input scale and thresholds).
        min_score: face probability below which a peak is dropped (default: the config's).
        precision: ``"fp32"`` or ``"bf16"`` (autocast on the CPU; decoding stays fp32).
    """

    def __init__(self, net: OnePassNet, min_score: float | None = None, precision: str = "fp32") -> None:
        self.net = net.eval()
        self.config = net.config
        self.min_score = self.config.min_score if min_score is None else min_score
        autocast_for(torch.device("cpu"), precision)  # validates it
        self.precision = precision

    @torch.inference_mode()
    def detect(self, frames: Sequence[np.ndarray]) -> list[list[OnePassFace]]:
        """Faces of each frame, best first; frames of different sizes are run one size at a time."""
        out: list[list[OnePassFace]] = [[] for _ in frames]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(i)
        scale = self.config.input_scale
        for indices in by_shape.values():
            x = prepare([frames[i] for i in indices], self.config).contiguous(memory_format=torch.channels_last)
            with autocast_for(torch.device("cpu"), self.precision):
                maps = {k: v.float() for k, v in self.net(x).items()}
            found = decode(
                torch.sigmoid(maps["heatmap"]),
                maps["offset"],
                maps["size"],
                maps["landmarks"],
                maps["expression"],
                OUTPUT_STRIDE,
                min_score=self.min_score,
                iou=self.config.nms_iou,
            )
            for i, faces in zip(indices, found):
                h, w = frames[i].shape[:2]
                for face in faces:
                    face.box = np.clip(face.box / scale, 0, [w, h, w, h]).astype(np.float32)
                    face.landmarks = (face.landmarks / scale).astype(np.float32)
                out[i] = faces
        return out


def config_hash(config: OnePassConfig) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def save_detector(
    net: OnePassNet,
    folder: str | Path,
    dtype: torch.dtype = torch.float16,
    *,
    metrics: str | None = None,
    training: dict | None = None,
) -> Path:
    """Write a detector folder: ``config.json``, ``model.safetensors`` (fp16 by default, the
    config's hash in its header, as the embedders' folders) and a ``README.md`` card.

    Args:
        net: the network (its config is stored).
        folder: where to write.
        dtype: floating-point dtype of the stored weights.
        metrics: markdown of the measured results for the card.
        training: the run's record for the card.

    Returns:
        The folder.
    """
    import json

    from safetensors.torch import save

    from ..cards import render_detector_card

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().contiguous().cpu()
        for k, v in net.state_dict().items()
    }
    (folder / "config.json").write_text(json.dumps(net.config.to_dict(), indent=2) + "\n")
    (folder / "model.safetensors").write_bytes(save(state, metadata={"fever_config_hash": config_hash(net.config)}))
    card = render_detector_card(
        net.config,
        metrics=metrics,
        training=training,
        num_parameters=sum(p.numel() for p in net.parameters()),
        config_hash=config_hash(net.config),
    )
    (folder / "README.md").write_text(card)
    return folder


def load_detector(folder: str | Path, precision: str = "fp32") -> OnePassDetector:
    """A detector folder written by :func:`save_detector`, checked like the embedders' (safetensors
    only, finite weights, the config's own shapes and hash); ``precision`` as in :class:`OnePassDetector`.

    Raises:
        ModelLoadError: naming the file and what is wrong.
    """
    import json

    from ..errors import ModelLoadError
    from ..models.hub import check_finite

    folder = Path(folder)
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise ModelLoadError(
                f"{folder / name}: missing; a one-pass detector folder needs config.json and model.safetensors"
            )
    try:
        config = OnePassConfig.from_dict(json.loads((folder / "config.json").read_text()))
        widths_ok = len(config.widths) == 4 and all(0 < int(w) <= 1024 for w in config.widths)
        heads_ok = 0 < config.head_width <= 1024 and 0 <= config.expression_width <= 1024
        depths_ok = len(config.depths) == 3 and all(1 <= int(d) <= 16 for d in config.depths)
        if not widths_ok or not heads_ok or not depths_ok or not 0.05 <= config.input_scale <= 4:
            raise ValueError(
                f"widths {list(config.widths)}, depths {list(config.depths)}, head_width {config.head_width}, "
                f"expression_width {config.expression_width}, input_scale {config.input_scale}"
            )
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"{folder / 'config.json'}: not a valid one-pass detector config ({exc})") from None
    from safetensors import safe_open

    try:
        with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except Exception as exc:  # SafetensorError, OSError depending on the damage
        raise ModelLoadError(f"{folder / 'model.safetensors'}: corrupt or truncated ({exc})") from None
    check_finite(tensors, folder / "model.safetensors")
    if metadata.get("fever_config_hash") != config_hash(config):
        raise ModelLoadError(f"{folder}: config.json does not match model.safetensors (config hash differs)")
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in OnePassNet(config).state_dict().items()}
    if {k: v.shape for k, v in tensors.items()} != shapes:
        raise ModelLoadError(f"{folder}: model.safetensors does not hold the network config.json describes")
    net = OnePassNet(config)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    return OnePassDetector(net.to(memory_format=torch.channels_last), precision=precision)


class OnePassFaceDetector:
    """The one-pass detector behind :class:`fever.detect.FaceDetector`'s interface, so that its
    boxes feed the same crop + embed path (every row still gets a vector) and carry the network's
    own expression logits.

    Args:
        detector: a loaded :class:`OnePassDetector`.
    """

    def __init__(self, detector: OnePassDetector) -> None:
        self.onepass = detector

    def detect(self, images: Sequence[np.ndarray]) -> list[list["Detection"]]:
        from ..detect import Detection

        return [
            [Detection(f.box, f.score, f.landmarks, f.expression_logits) for f in faces]
            for faces in self.onepass.detect(images)
        ]

    def refine(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> list["Detection | None"]:
        """The faces of the next frame that continue ``boxes`` (best IoU >= 0.3): one pass of the
        whole frame costs about what MTCNN's last stage costs on its boxes."""
        from torchvision.ops import box_iou

        found = self.detect([image])[0]
        if not found or not len(boxes):
            return [None] * len(boxes)
        iou = box_iou(torch.as_tensor(np.stack(boxes)), torch.as_tensor(np.stack([d.box for d in found])))
        best = iou.max(dim=1)
        return [found[int(j)] if float(v) >= 0.3 else None for v, j in zip(best.values, best.indices)]


DETECTORS = ("mtcnn", "onepass")
BUNDLED = Path(__file__).resolve().parents[1] / "weights" / "fever-onepass"


def resolve_detector(name: str | Path) -> Path:
    """The folder of a one-pass detector: ``"onepass"`` is the bundled one, anything else a folder.

    Raises:
        ModelLoadError: the bundled detector is not there (it ships once trained) or the folder is missing.
    """
    from ..errors import ModelLoadError

    if str(name) == "onepass":
        if not (BUNDLED / "model.safetensors").is_file():
            raise ModelLoadError(
                "no bundled one-pass detector in this fever yet (fever/weights/fever-onepass); "
                "pass a detector folder trained with fever-distill detector, or use detector='mtcnn'"
            )
        return BUNDLED
    folder = Path(name)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such one-pass detector folder (or use 'mtcnn' / 'onepass')")
    return folder
