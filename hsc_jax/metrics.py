"""Binary classification metrics on host arrays: what training, evaluation and export report."""

from __future__ import annotations

import numpy as np


def _as_arrays(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    if labels.shape != probs.shape:
        raise ValueError(f"labels {labels.shape} and probs {probs.shape} differ in length")
    return labels, probs


def confusion_counts(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, int]:
    """True/false positives/negatives with `prob >= threshold` meaning smiling."""
    labels, probs = _as_arrays(labels, probs)
    predicted = probs >= threshold
    positive = labels == 1
    return {
        "tp": int(np.sum(predicted & positive)),
        "fp": int(np.sum(predicted & ~positive)),
        "tn": int(np.sum(~predicted & ~positive)),
        "fn": int(np.sum(~predicted & positive)),
    }


def roc_curve(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), thresholds decreasing.

    Tied scores form one point, so the curve does not depend on the order of equal scores.
    """
    labels, probs = _as_arrays(labels, probs)
    order = np.argsort(-probs, kind="stable")
    sorted_probs, sorted_labels = probs[order], labels[order]
    # Last index of each run of equal scores: the curve only moves between distinct thresholds.
    distinct = np.r_[np.nonzero(np.diff(sorted_probs))[0], sorted_probs.size - 1]
    tps = np.cumsum(sorted_labels)[distinct]
    fps = (distinct + 1) - tps
    positives, negatives = tps[-1] if tps.size else 0, fps[-1] if fps.size else 0
    tpr = np.r_[0.0, tps / positives] if positives else np.full(tps.size + 1, np.nan)
    fpr = np.r_[0.0, fps / negatives] if negatives else np.full(fps.size + 1, np.nan)
    thresholds = np.r_[np.inf, sorted_probs[distinct]]
    return fpr, tpr, thresholds


def roc_auc(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """Area under the ROC curve; None when one class is absent (it is undefined)."""
    labels, _ = _as_arrays(labels, probs)
    if labels.size == 0 or labels.min() == labels.max():
        return None
    fpr, tpr, _ = roc_curve(labels, probs)
    return float(np.trapezoid(tpr, fpr))


def precision_recall_curve(
    labels: np.ndarray, probs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) at every distinct score, thresholds decreasing."""
    labels, probs = _as_arrays(labels, probs)
    _, _, thresholds = roc_curve(labels, probs)
    thresholds = thresholds[1:]
    order = np.argsort(-probs, kind="stable")
    sorted_probs, sorted_labels = probs[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(sorted_probs))[0], sorted_probs.size - 1]
    tps = np.cumsum(sorted_labels)[distinct].astype(np.float64)
    predicted = (distinct + 1).astype(np.float64)
    positives = max(int(labels.sum()), 1)
    return tps / predicted, tps / positives, thresholds


def f1_optimal_threshold(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """The threshold that maximises F1 on these samples, and that F1.

    The threshold is the midpoint between the best score and the next lower one, so that it
    generalises rather than sitting exactly on one sample. 0.5 when there is no positive.
    """
    labels, probs = _as_arrays(labels, probs)
    if labels.size == 0 or labels.sum() == 0:
        return 0.5, 0.0
    precision, recall, thresholds = precision_recall_curve(labels, probs)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    below = thresholds[best + 1] if best + 1 < thresholds.size else 0.0
    threshold = float((thresholds[best] + below) / 2)
    return float(np.clip(threshold, 1e-6, 1.0)), float(f1[best])


def binary_metrics(
    labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5, loss: float | None = None
) -> dict[str, float | None]:
    """loss, accuracy, precision, recall, F1 at `threshold`, and ROC AUC."""
    counts = confusion_counts(labels, probs, threshold)
    tp, fp, tn, fn = counts["tp"], counts["fp"], counts["tn"], counts["fn"]
    total = tp + fp + tn + fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "loss": None if loss is None else float(loss),
        "accuracy": (tp + tn) / total if total else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(labels, probs),
        "threshold": float(threshold),
        "count": total,
    }
