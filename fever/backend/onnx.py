"""Export to ONNX (dynamic batch) and int8, with the parity check that proves the copy is faithful.

The ONNX graph maps normalised model input (N, 3, S, S) to the ``D_face`` vector; the model's
config (preprocessing included) is stored in the file's metadata, so ``extract(..., backend="onnx")``
prepares faces exactly as the torch path does. Needs ``pip install "fever[onnx]"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models import FeverModel
from ..vectors import row_cosine

ONNX_NAME = "model.onnx"


class _EmbedOnly(torch.nn.Module):
    def __init__(self, model: FeverModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)


def export_onnx(model: FeverModel, out: str | Path, opset: int = 18) -> Path:
    import onnx

    size = model.config.preprocess.input_size
    wrapper = _EmbedOnly(model.cpu().float()).eval()  # eval on the wrapper too: BatchNorm must use running stats
    example = torch.zeros(2, 3, size, size)
    out = Path(out)
    torch.onnx.export(
        wrapper,
        (example,),
        str(out),
        input_names=["input"],
        output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(out))
    for key, value in (
        ("fever_config", json.dumps(model.config.to_dict())),
        ("fever_config_hash", model.config.config_hash()),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(out))
    return out


class _CalibrationReader:
    def __init__(self, batches: list[np.ndarray]) -> None:
        self.batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {"input": batch}


def quantize_int8(onnx_in: str | Path, onnx_out: str | Path, calibration: np.ndarray, batch_size: int = 32) -> Path:
    """Static int8 quantisation (QDQ, per-channel weights) calibrated on real model inputs."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = Path(onnx_out).with_suffix(".prep.onnx")
    quant_pre_process(str(onnx_in), str(prepared))
    batches = [calibration[i : i + batch_size].astype(np.float32) for i in range(0, len(calibration), batch_size)]
    quantize_static(
        str(prepared),
        str(onnx_out),
        _CalibrationReader(batches),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    prepared.unlink()
    src, dst = onnx.load(str(onnx_in)), onnx.load(str(onnx_out))
    for prop in src.metadata_props:
        entry = dst.metadata_props.add()
        entry.key, entry.value = prop.key, prop.value
    onnx.save(dst, str(onnx_out))
    return Path(onnx_out)


class OnnxEmbedder:
    """Runs an exported graph with onnxruntime; same input and output as ``FeverModel.embed``."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.config_json: dict[str, Any] = json.loads(meta["fever_config"]) if "fever_config" in meta else {}
        self.config_hash = meta.get("fever_config_hash", "")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(["embedding"], {"input": x.detach().cpu().float().contiguous().numpy()})[0]
        return torch.from_numpy(out)


def parity(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """How faithful a copy's vectors are: min and mean cosine to the reference vectors, row by row."""
    cos = row_cosine(reference, other)
    return {"cosine_min": float(cos.min()), "cosine_mean": float(cos.mean())}
