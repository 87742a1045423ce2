"""`--fp16` / `--int8` exports: a verified float32 export, converted, then its accuracy change
on the validation split reported (reduced precision cannot meet the 1e-4 parity bar).

Data: the checkpoint's training dataset (`train_config["data_root"]`, split as in training)
when reachable, else `--calibration_data` (a parquet). int8 needs it for calibration; fp16
without data is written with a warning that no accuracy change could be measured.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from hsc_infer.contract import ModelContract, preprocess
from hsc_jax.errors import ConfigError
from hsc_jax.export.exporter import export_onnx, write_atomically
from hsc_jax.export.metadata import attach_contract
from hsc_jax.export.quantize import quantize_int8, to_float16
from hsc_jax.export.verify import onnx_session

logger = logging.getLogger(__name__)

CALIBRATION_IMAGES = 512  # training images used to calibrate int8 activation ranges


def _load_dataset(train_config: dict[str, Any] | None, calibration_data: Path | None, size):
    """The checkpoint's dataset if reachable, else `calibration_data`, else None."""
    from hsc_jax.data.dataset import load_dataset
    from hsc_jax.data.settings import DataSettings

    config = train_config or {}
    candidates = [config.get("data_root"), calibration_data]
    for source in candidates:
        if source is None or not Path(source).exists():
            continue
        # Calibration needs some good images, not every row: bad ones are left out.
        settings = DataSettings(skip_bad_rows=True).from_recorded(config)
        return load_dataset(source, size, settings)
    return None


def _model_input(images_rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> NCHW float32, through the preprocessing contract as hsc_infer
    prepares its crops (colour mode, channel order, size and scaling)."""
    return preprocess(images_rgb, contract, colour_order="rgb", layout="NCHW")


def _probabilities(model: onnx.ModelProto | str, images: np.ndarray, batch: int = 256):
    session = onnx_session(model)
    outputs = [
        session.run(None, {"images": images[i : i + batch]})[0]
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(outputs).astype(np.float32)


def accuracy_change(
    float_model: str, reduced_model: str, images: np.ndarray, labels: np.ndarray, threshold: float
) -> str:
    """One line: accuracy of both models at `threshold`, its change, and the max prob change."""
    p32, reduced = _probabilities(float_model, images), _probabilities(reduced_model, images)
    acc32 = float(np.mean((p32 >= threshold) == (labels == 1)))
    acc_reduced = float(np.mean((reduced >= threshold) == (labels == 1)))
    flips = int(np.sum((p32 >= threshold) != (reduced >= threshold)))
    return (
        f"validation accuracy {acc32:.4f} (float32) -> {acc_reduced:.4f} "
        f"({acc_reduced - acc32:+.4f}) on {len(labels)} images; {flips} decisions changed; "
        f"max |prob change| {float(np.max(np.abs(p32 - reduced))):.2g}"
    )


def export_reduced_precision(
    output: Path,
    kind: str,
    *,
    model,
    image_size: tuple[int, int],
    contract: ModelContract,
    opset: int,
    threshold: float | None,
    training_config: dict[str, Any] | None,
    calibration_data: Path | None = None,
) -> str:
    """Write the `kind` ("fp16" or "int8") model to `output`; return a summary line."""
    if kind not in ("fp16", "int8"):
        raise ValueError(f"kind must be 'fp16' or 'int8', got {kind!r}")
    dataset = _load_dataset(training_config, calibration_data, image_size)
    if dataset is None and kind == "int8":
        raise ConfigError(
            "int8 calibration needs training images: the checkpoint's dataset "
            f"({(training_config or {}).get('data_root')}) is not reachable; pass "
            "--calibration_data DATASET.parquet"
        )
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float32.onnx"
        report = export_onnx(
            model, image_size, contract, float_path, opset,
            threshold=threshold, training_config=training_config,
        )  # fmt: skip
        reduced_path = Path(folder) / f"{kind}.onnx"
        if kind == "fp16":
            onnx.save(to_float16(onnx.load(str(float_path))), str(reduced_path))
        else:
            train = dataset.splits["train"]
            picks = np.random.default_rng(0).permutation(len(train))[:CALIBRATION_IMAGES]
            calibration = _model_input(train.images[picks], report.contract)
            quantize_int8(str(float_path), str(reduced_path), calibration)
        reduced = attach_contract(onnx.load(str(reduced_path)), report.contract)
        onnx.checker.check_model(reduced, full_check=True)
        onnx.save(reduced, str(reduced_path))
        if dataset is not None and len(dataset.splits["val"]) > 0:
            val = dataset.splits["val"]
            change = accuracy_change(
                str(float_path), str(reduced_path), _model_input(val.images[np.arange(len(val))], report.contract),
                val.labels, report.contract.threshold,
            )  # fmt: skip
        else:
            change = "no validation split reachable: accuracy change not measured"
            logger.warning("%s export of %s: %s", kind, output, change)
        path = write_atomically(reduced, output)
    size_kb = path.stat().st_size / 1024
    return f"wrote {path} ({kind}, opset {opset}, {size_kb:.0f} KB); {change}"
