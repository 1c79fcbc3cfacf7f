"""The DeepFEVER network: a trunk, a projection to the ``D_face`` vector, and the output heads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import hub
from .backbones import facenet_expression_trunk, facenet_trunk, load_vggface2_weights, torchvision_trunk
from .config import ModelConfig
from .fer_nets import FER_TRUNKS, fer_trunk
from .heads import ConvBNReLU, ExpressionHeads, FeverOutput
from .hub import ModelOrigin


class FeverModel(nn.Module):
    """Teacher or student, chosen by ``config.kind``.

    paper teacher (Fig. 1): FaceNet to ``repeat_2`` -> 1x1 conv+BN+ReLU -> dense block -> 1x1
    conv+BN+ReLU -> global average pool -> ``D_face`` -> dropout -> 32-d similarity head, 8 logits.
    any other trunk (a 48-64 px trunk of :mod:`fever.models.fer_nets` or a torchvision backbone)
    -> 1x1 conv+BN+ReLU -> pool -> ``D_face`` -> dropout -> 32-d similarity, 8 logits, and for
    students (II-B) the 80-d distillation head.
    Like timm networks, ``forward_features`` and ``embed`` make the vector a first-class output.

    Args:
        config: architecture and preprocessing (:class:`~fever.models.config.ModelConfig`).
        backbone_weights: ``"vggface2"`` starts a paper teacher's FaceNet trunk from its published
            weights; None (default) starts from random weights.
    """

    origin: ModelOrigin | None
    """Where the weights were loaded from (None for a model built in memory)."""

    def __init__(self, config: ModelConfig, backbone_weights: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.origin = None
        if config.backbone == "inception_resnet_v1":
            if config.kind != "teacher":
                raise ValueError("the inception_resnet_v1 trunk is the paper's teacher; use kind='teacher'")
            self.trunk: nn.Module = facenet_trunk()
            if backbone_weights == "vggface2":
                load_vggface2_weights(self.trunk)  # type: ignore[arg-type]
            elif backbone_weights is not None:
                raise ValueError(f"unknown backbone_weights {backbone_weights!r}; use 'vggface2' or None")
            body, channels = facenet_expression_trunk(config.growth_rate, config.dense_layers, config.bottleneck)
            self.body: nn.Module = body
        else:
            if backbone_weights is not None:
                raise ValueError(
                    "backbone_weights applies to the FaceNet trunk; other trunks start from random weights here"
                )
            if config.backbone in FER_TRUNKS:
                self.trunk, channels = fer_trunk(config.backbone)
            else:
                self.trunk, channels = torchvision_trunk(config.backbone)
            self.body = nn.Identity()
        self.project = ConvBNReLU(channels, config.d_face)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = ExpressionHeads(
            config.d_face, config.similarity_dim, config.num_classes, config.distill_dim, config.dropout
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before pooling.

        Args:
            x: normalised model input (N, 3, S, S) (see :func:`fever.preprocess.to_model_input`).

        Returns:
            (N, D_face, h, w).
        """
        return self.project(self.body(self.trunk(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The ``D_face`` expression vector, the output users keep.

        Args:
            x: normalised model input (N, 3, S, S).

        Returns:
            (N, D_face) vectors.
        """
        return torch.flatten(self.pool(self.forward_features(x)), 1)

    def forward(self, x: torch.Tensor) -> FeverOutput:
        """Every output of one pass.

        Args:
            x: normalised model input (N, 3, S, S).

        Returns:
            The vector and the heads' outputs (similarity, expression logits, distillation).
        """
        return self.heads(self.embed(x))

    # Hub-style persistence (PyTorchModelHubMixin's surface; the files are fever.models.hub's).
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        card_template: str | None = None,
        dtype: torch.dtype | None = None,
        comparison: str | None = None,
    ) -> Path:
        """Write ``config.json``, ``model.safetensors``, a model card and the shipped probes.

        Args:
            save_directory, metrics, training, card_template, dtype, comparison: as in
                :func:`fever.models.hub.save_pretrained`.

        Returns:
            The folder.
        """
        return hub.save_pretrained(
            self,
            save_directory,
            metrics=metrics,
            training=training,
            card_template=card_template,
            dtype=dtype,
            comparison=comparison,
        )

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool | None = None,
        device: str | torch.device = "cpu",
    ) -> "FeverModel":
        """Same as :func:`fever.load`: find the files, check that they fit, build, load, eval mode."""
        from ..errors import ModelLoadError
        from .budget import check_budget

        folder, source = hub.resolve(name_or_path, revision, cache_dir, local_files_only)
        config = hub.read_config(folder)
        try:
            # shapes first, on the meta device: a config asking for a huge or unknown network is
            # refused before anything is allocated, and the real one is never larger than the file
            shapes = check_budget(config, cls).state_dict()
        except ModelLoadError as exc:
            raise ModelLoadError(f"{folder / hub.CONFIG_NAME}: {exc}") from None
        tensors, metadata = hub.read_weights(folder)
        hub.check_weights_fit(shapes, config, tensors, metadata, folder)
        model = cls(config)
        model.load_state_dict(tensors, strict=True)
        model.origin = ModelOrigin(
            source=source,
            folder=folder,
            revision=revision or metadata.get("fever_version", ""),
            dtype=hub.stored_dtype(tensors),
        )
        return model.to(device).eval()
