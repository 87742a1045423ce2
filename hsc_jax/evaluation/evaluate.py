"""`hsc-jax evaluate`: metrics and figures of a checkpoint or an ONNX model on one split.

Both paths prepare pixels with the model's preprocessing contract: the dataset cache is already
resized by the shared rule, the checkpoint path scales it with `scale_batch`, and the ONNX path
hands BGR crops to `hsc_infer.SmileClassifier`, which runs `preprocess` itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from hsc_infer.contract import ModelContract, scale_batch
from hsc_jax.data.dataset import load_dataset
from hsc_jax.data.errors import DatasetError
from hsc_jax.data.settings import DEFAULTS, DataSettings
from hsc_jax.errors import ConfigError
from hsc_jax.metrics import binary_metrics, f1_optimal_threshold
from hsc_jax.plots import save_confusion_png, save_pr_png, save_roc_png
from hsc_jax.train.outputs import bce, sigmoid, write_json
from hsc_jax.train.step import jit_inference, logits_in_batches

log = logging.getLogger("hsc_jax.train")

SPLIT_CHOICES = ("train", "val", "test", "all")


def _checkpoint_scores(
    checkpoint: str | Path, images: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(logits, probs) of RGB uint8 images at the contract's size, from a checkpoint."""
    from hsc_jax.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    infer = jit_inference(loaded.model)
    logits = logits_in_batches(
        lambda chunk: infer(scale_batch(chunk, loaded.contract, "NHWC")), images, batch_size
    )
    return logits, sigmoid(logits)


def evaluate_model(
    data_root: str | Path,
    output_dir: str | Path,
    checkpoint: str | Path | None = None,
    onnx_model: str | Path | None = None,
    split: str = "test",
    batch_size: int = 256,
    data_settings: DataSettings = DEFAULTS,
) -> dict[str, Any]:
    """Write metrics.json and confusion/ROC/PR figures to output_dir; returns the metrics.

    The split is the training run's when the model records its settings; `data_settings`
    gives the rest (and the split of a model that records none)."""
    if (checkpoint is None) == (onnx_model is None):
        raise ConfigError("give exactly one of --checkpoint and --model")
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"--split must be one of {SPLIT_CHOICES}, got {split!r}")
    if checkpoint is not None:
        from hsc_jax.train.checkpoint import read_meta, resolve_checkpoint

        meta = read_meta(resolve_checkpoint(checkpoint))
        contract = ModelContract.from_dict(meta["contract"])
        training = meta.get("train_config")
        classifier = None
    else:
        from hsc_infer import SmileClassifier

        classifier = SmileClassifier(onnx_model, provider="cpu")
        contract = classifier.contract
        training = contract.training_config
    settings = data_settings.from_recorded(training)
    dataset = load_dataset(data_root, contract.input_size, settings)
    names = ("train", "val", "test") if split == "all" else (split,)
    # images[rows] reads a streamed split as well as one decoded in memory.
    images = np.concatenate(
        [dataset.splits[n].images[np.arange(len(dataset.splits[n]))] for n in names]
    )
    labels = np.concatenate([dataset.splits[n].labels for n in names])
    if len(labels) == 0:
        raise DatasetError(f"the {split} split of {data_root} is empty; choose another --split")

    loss = None
    if classifier is not None:
        probs = np.concatenate(
            [
                classifier.predict(list(images[i : i + batch_size, :, :, ::-1]))
                for i in range(0, len(images), batch_size)
            ]
        ).astype(np.float64)
    else:
        logits, probs = _checkpoint_scores(checkpoint, images, batch_size)
        loss = bce(labels, logits)

    threshold, best_f1 = f1_optimal_threshold(labels, probs)
    metrics = {
        "model": str(checkpoint or onnx_model),
        "data_root": str(data_root),
        "split": split,
        "count": int(len(labels)),
        "at_0.5": binary_metrics(labels, probs, 0.5, loss=loss),
        "at_model_threshold": binary_metrics(labels, probs, contract.threshold, loss=loss),
        "model_threshold": contract.threshold,
        "f1_optimal_threshold": {"threshold": threshold, "f1": best_f1},
    }
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / "metrics.json", metrics)
    title = f"{split} ({len(labels)})"
    save_confusion_png(labels, probs, 0.5, output_dir / f"confusion_{split}.png", title)
    save_confusion_png(
        labels,
        probs,
        contract.threshold,
        output_dir / f"confusion_{split}_model_threshold.png",
        title,
    )
    save_roc_png(labels, probs, output_dir / f"roc_{split}.png", title)
    save_pr_png(labels, probs, output_dir / f"pr_{split}.png", title)
    return metrics
