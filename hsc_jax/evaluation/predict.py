"""`hsc-jax predict`: smile probabilities of image files from a checkpoint.

Crops go through `hsc_infer.contract.preprocess` with the checkpoint's contract, exactly as the
ONNX classifier would prepare them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flax import nnx

from hsc_infer.contract import ModelContract, preprocess
from hsc_infer.inputs import read_image
from hsc_infer.labels import CLASS_NAMES, IMAGE_SUFFIXES
from hsc_jax import atomic
from hsc_jax.data.errors import DatasetError
from hsc_jax.train.outputs import sigmoid
from hsc_jax.train.step import jit_inference, logits_in_batches

PREPROCESS_CHUNK = 4096


@dataclass(frozen=True)
class Prediction:
    path: str
    logit: float
    prob_smiling: float


def collect_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given, and image files under directories (recursively, sorted)."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"input {path} does not exist")
    if not found:
        raise FileNotFoundError(
            f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in "
            f"{', '.join(str(i) for i in inputs)}"
        )
    return found


def read_crops(paths: Sequence[Path]) -> list[np.ndarray]:
    """BGR uint8 images; every unreadable file is named in one error."""
    crops, bad = [], []
    for path in paths:
        image = read_image(path)  # refuses decompression bombs, as inference does
        if image is None:
            bad.append(str(path))
        crops.append(image)
    if bad:
        raise DatasetError(f"cannot decode {len(bad)} image(s): {', '.join(bad[:10])}")
    return crops


def model_logits(
    model: nnx.Module, contract: ModelContract, crops_bgr: Sequence[np.ndarray], batch_size: int
) -> np.ndarray:
    """Logits of BGR crops of any size through the contract's preprocessing (eval mode)."""
    infer = jit_inference(model)
    out = [np.zeros((0,), np.float32)]
    # Crops of any size are preprocessed a chunk at a time, so memory stays bounded.
    for start in range(0, len(crops_bgr), PREPROCESS_CHUNK):
        chunk = list(crops_bgr[start : start + PREPROCESS_CHUNK])
        batch = preprocess(chunk, contract, colour_order="bgr", layout="NHWC")
        out.append(logits_in_batches(infer, batch, batch_size))
    return np.concatenate(out)


def predict_files(
    checkpoint: str | Path, inputs: Iterable[str | Path], batch_size: int = 64
) -> list[Prediction]:
    from hsc_jax.train.checkpoint import load_checkpoint

    paths = collect_images(inputs)
    crops = read_crops(paths)
    loaded = load_checkpoint(checkpoint)
    logits = model_logits(loaded.model, loaded.contract, crops, min(batch_size, len(crops)))
    probs = sigmoid(logits)
    return [
        Prediction(str(p), float(lg), float(pr))
        for p, lg, pr in zip(paths, logits, probs, strict=True)
    ]


def write_predictions_csv(path: str | Path, predictions: Sequence[Prediction]) -> None:
    with atomic.atomic_path(path) as temporary, open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "logit", "prob_smiling"])
        for p in predictions:
            writer.writerow([p.path, f"{p.logit:.6f}", f"{p.prob_smiling:.6f}"])


def format_table(predictions: Sequence[Prediction], threshold: float | None = None) -> str:
    width = max(len("path"), *(len(p.path) for p in predictions))
    lines = [f"{'path':<{width}}  {'logit':>9}  {'prob_smiling':>12}"]
    for p in predictions:
        mark = ""
        if threshold is not None:
            mark = "  " + CLASS_NAMES[int(p.prob_smiling >= threshold)]
        lines.append(f"{p.path:<{width}}  {p.logit:>9.4f}  {p.prob_smiling:>12.4f}{mark}")
    return "\n".join(lines)
