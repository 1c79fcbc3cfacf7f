"""Model cards rendered from the templates in ``hub_cards/``."""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Any

from .models.config import ModelConfig

DEFAULT_TEMPLATE = "fever-model.md"


def _table(rows: dict[str, Any], empty: str, fractions_as_percent: bool) -> str:
    """Metrics are fractions shown as percentages; training records (hours, steps) are shown as is."""
    if not rows:
        return empty
    lines = ["| metric | value |", "|---|---|"]
    for key, value in rows.items():
        as_percent = fractions_as_percent and isinstance(value, float) and 0 <= value <= 1
        text = f"{100 * value:.2f}%" if as_percent else str(value)
        lines.append(f"| {key} | {text} |")
    return "\n".join(lines)


def render_model_card(
    cfg: ModelConfig,
    *,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    template: str | None = None,
    num_parameters: int = 0,
    comparison: str | None = None,
) -> str:
    """Fill a card template; ``template`` is a file name in ``hub_cards/`` or the template text."""
    if template is None or "\n" not in template:
        text = resources.files("hub_cards").joinpath(template or DEFAULT_TEMPLATE).read_text()
    else:
        text = template
    pre = cfg.preprocess
    heads = f"{cfg.similarity_dim}-d similarity, {cfg.num_classes} expression logits"
    if cfg.distill_dim:
        heads += f", {cfg.distill_dim}-d distillation"
    values = {
        "name": cfg.name,
        "description": cfg.description or "",
        "kind": cfg.kind,
        "backbone": cfg.backbone,
        "d_face": cfg.d_face,
        "heads": heads,
        "num_parameters": f"{num_parameters / 1e6:.2f} M",
        "input_desc": f"{pre.input_size}x{pre.input_size} "
        f"{'grayscale (repeated to 3 channels)' if pre.grayscale else 'RGB'}, "
        f"mean {list(pre.mean)}, std {list(pre.std)}",
        "margin": f"{pre.margin:.2f} of the box size on each side",
        "align_desc": f"on, rotation capped at {pre.max_rotation:g} degrees" if pre.align else "off",
        "config_hash": cfg.config_hash(),
        "metrics": _table(
            metrics or {},
            "Not evaluated: no metrics were passed when this folder was saved "
            "(for example, randomly initialised weights).",
            fractions_as_percent=True,
        ),
        "comparison": f"## Compared with the other runs\n\n{comparison.strip()}\n\n" if comparison else "",
        "training": _table(
            training or {}, "No training record was passed when this folder was saved.", fractions_as_percent=False
        ),
    }
    return Template(text).safe_substitute(values)


def render_detector_card(
    config: Any,
    *,
    metrics: str | None = None,
    training: dict[str, Any] | None = None,
    num_parameters: int = 0,
    config_hash: str = "",
) -> str:
    """The card of a one-pass detector folder (``hub_cards/fever-onepass.md``); ``metrics`` is
    markdown made by the evaluation that chose the threshold and tested the folder."""
    text = resources.files("hub_cards").joinpath("fever-onepass.md").read_text()
    values = {
        "name": config.name,
        "description": config.description or "",
        "widths": ", ".join(str(w) for w in config.widths),
        "depths": ", ".join(str(d) for d in config.depths),
        "head_width": config.head_width,
        "expression_branch": (
            f"its own, {config.expression_width} channels at stride 8 (strides 8-32 fused, two separable blocks)"
            if config.expression_width
            else "none: the expression logits are read off the shared head"
        ),
        "num_parameters": f"{num_parameters / 1e3:.1f} k",
        "input_scale": f"{config.input_scale:g}",
        "seen": f"{round(640 * config.input_scale)}x{round(360 * config.input_scale)}",
        "min_score": f"{config.min_score:g}",
        "nms_iou": f"{config.nms_iou:g}",
        "config_hash": config_hash,
        "metrics": metrics
        or "Not evaluated: no metrics were passed when this folder was saved (for example, random weights).",
        "training": _table(
            training or {}, "No training record was passed when this folder was saved.", fractions_as_percent=False
        ),
    }
    return Template(text).safe_substitute(values)
