"""Diagnostic figures (confusion matrix, ROC, precision-recall) written as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np

from hsc_infer.labels import CLASS_NAMES
from hsc_jax.metrics import confusion_counts, precision_recall_curve, roc_auc, roc_curve


def _save(fig: plt.Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _one_class_note(ax: plt.Axes, labels: np.ndarray, what: str) -> bool:
    """Writes a note instead of a curve when a class is absent; True when it did."""
    present = set(np.unique(np.asarray(labels).astype(int)).tolist())
    if present >= {0, 1}:
        return False
    shown = ", ".join(CLASS_NAMES[c] for c in sorted(present)) or "no samples"
    ax.text(0.5, 0.5, f"{what} undefined: only {shown}", ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return True


def save_confusion_png(
    labels: np.ndarray, probs: np.ndarray, threshold: float, path: Path, title: str = ""
) -> Path:
    counts = confusion_counts(labels, probs, threshold)
    matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        colour = "white" if value > matrix.max() / 2 else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], CLASS_NAMES)
    ax.set_yticks([0, 1], CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (threshold {threshold:.3f})".strip())
    return _save(fig, path)


def save_roc_png(labels: np.ndarray, probs: np.ndarray, path: Path, title: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(4, 4))
    if not _one_class_note(ax, labels, "ROC"):
        fpr, tpr, _ = roc_curve(labels, probs)
        ax.plot(fpr, tpr, label=f"AUC {roc_auc(labels, probs):.4f}")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(loc="lower right")
    ax.set_title(title)
    return _save(fig, path)


def save_pr_png(labels: np.ndarray, probs: np.ndarray, path: Path, title: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(4, 4))
    if not _one_class_note(ax, labels, "Precision-recall"):
        precision, recall, _ = precision_recall_curve(labels, probs)
        ax.plot(np.r_[0.0, recall], np.r_[1.0, precision])
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
    ax.set_title(title)
    return _save(fig, path)
