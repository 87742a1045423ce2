"""What a run leaves in --output_dir besides checkpoints: logs, JSON records, TensorBoard
scalars, diagnostic figures and the test predictions."""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hsc_jax import atomic
from hsc_jax.plots import save_confusion_png, save_roc_png

log = logging.getLogger("hsc_jax.train")

HISTORY_FILE = "history.json"
SUMMARY_FILE = "summary.json"
LOG_FILE = "train.log"
TEST_PREDICTIONS_FILE = "test_predictions.csv"
DIAGNOSTICS_DIR = "diagnostics"
# Frame-numbered crops are named <video>_<frame>.<ext> by the data tools.
_FRAME_NAME = re.compile(r"^(?P<video>.+?)[_-](?:frame)?(?P<frame>\d+)$")


@contextmanager
def run_logging(output_dir: Path, verbose: bool, process: int | None = None) -> Iterator[None]:
    """Console (stderr) and `train.log` (appended) for the run's duration.

    In a multi-process run (`process` given) only process 0 writes train.log; every process
    logs to its own console with its number in front.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("hsc_jax")
    prefix = "" if process is None else f"[process {process}] "
    formatter = logging.Formatter(
        f"%(asctime)s %(levelname)s {prefix}%(message)s", "%Y-%m-%d %H:%M:%S"
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    console = handlers[0]
    if not process:
        handlers.append(logging.FileHandler(output_dir / LOG_FILE, mode="a", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    console.setLevel(logging.DEBUG if verbose else logging.INFO)
    previous_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Messages reach our handlers only; the root logger would print them a second time.
    previous_propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


def progress_bar(total: int, description: str, verbose: bool) -> tqdm:
    """A bar on stderr under --verbose (tqdm hides itself when stderr is not a terminal)."""
    return tqdm(
        total=total,
        desc=description,
        unit="img",
        leave=False,
        dynamic_ncols=True,
        file=sys.stderr,
        disable=None if verbose else True,
    )


def json_safe(value: Any) -> Any:
    """NaN and infinities -> None, numpy scalars -> Python (strict JSON readers choke on NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    atomic.write_text(path, json.dumps(json_safe(data), indent=2, sort_keys=False) + "\n")


class Scalars:
    """TensorBoard scalars under the reference's tags (tensorboardX: no TensorFlow needed)."""

    def __init__(self, output_dir: Path) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(logdir=str(output_dir))

    def split_metrics(self, split: str, metrics: dict[str, Any] | None, epoch: int) -> None:
        if not metrics:
            return
        if metrics.get("loss") is not None:
            self.writer.add_scalar(f"loss/{split}", metrics["loss"], epoch)
        self.writer.add_scalar(f"metrics/{split}_accuracy", metrics["accuracy"], epoch)
        self.writer.add_scalar(f"metrics/{split}_f1", metrics["f1"], epoch)

    def epoch(
        self, epoch: int, lr: float, train: dict[str, Any], val: dict[str, Any] | None
    ) -> None:
        """An epoch's train and val metrics and its learning rate, flushed to disk."""
        self.split_metrics("train", train, epoch)
        self.split_metrics("val", val, epoch)
        self.writer.add_scalar("lr", lr, epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def save_diagnostics(
    output_dir: Path, split: str, epoch: int, labels: np.ndarray, probs: np.ndarray
) -> None:
    """Confusion matrix (threshold 0.5) and ROC of one split after one epoch."""
    folder = output_dir / DIAGNOSTICS_DIR / split
    title = f"{split}, epoch {epoch}"
    save_confusion_png(
        labels, probs, 0.5, folder / f"confusion_{split}_epoch{epoch:04d}.png", title
    )
    save_roc_png(labels, probs, folder / f"roc_{split}_epoch{epoch:04d}.png", title)


def video_and_frame(path: str) -> tuple[str, str]:
    """(video_name, base_frame) of a crop path: `clip_0042.png` -> ("clip", "42"); a name
    without a frame number is its own video with an empty frame."""
    stem = Path(path.split("#")[0]).stem
    match = _FRAME_NAME.match(stem)
    if match is None:
        return stem, ""
    return match["video"], str(int(match["frame"]))


def write_test_predictions(
    path: Path, paths: list[str], labels: np.ndarray, logits: np.ndarray
) -> None:
    """`path, video_name, base_frame, label, logit, prob_smiling` per test example."""
    probs = sigmoid(logits)
    with atomic.atomic_path(path) as temporary, open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "video_name", "base_frame", "label", "logit", "prob_smiling"])
        for p, label, logit, prob in zip(paths, labels, logits, probs, strict=True):
            video, frame = video_and_frame(p)
            writer.writerow([p, video, frame, int(label), f"{logit:.6f}", f"{prob:.6f}"])


def sigmoid(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -logits))


def bce(labels: np.ndarray, logits: np.ndarray, pos_weight: float = 1.0) -> float:
    """Mean (optionally class-weighted) sigmoid BCE of host arrays, stable for large logits."""
    labels = np.asarray(labels, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    if labels.size == 0:
        return float("nan")
    log_p = -np.logaddexp(0.0, -logits)
    log_not_p = -np.logaddexp(0.0, logits)
    return float(np.mean(-(pos_weight * labels * log_p + (1.0 - labels) * log_not_p)))
