import numpy as np
import pytest

from hsc_jax.metrics import binary_metrics, f1_optimal_threshold, roc_auc
from hsc_jax.plots import save_confusion_png, save_pr_png, save_roc_png


def _pairwise_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """AUC as the probability that a positive outscores a negative (ties count half)."""
    pos, neg = probs[labels == 1], probs[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_equals_pairwise_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    probs = np.round(rng.random(300) * 0.5 + 0.4 * labels, 2)  # rounding makes ties
    assert roc_auc(labels, probs) == pytest.approx(_pairwise_auc(labels, probs), abs=1e-12)


def test_roc_auc_is_none_with_one_class() -> None:
    assert roc_auc(np.zeros(4), np.linspace(0, 1, 4)) is None


def test_binary_metrics_by_hand() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    probs = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.3, 0.5])
    m = binary_metrics(labels, probs, threshold=0.5, loss=0.25)
    # tp=2 (0.9, 0.6), fn=1, fp=2 (0.7, 0.5), tn=2
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["accuracy"] == pytest.approx(4 / 7)
    assert m["loss"] == 0.25 and m["count"] == 7


@pytest.mark.parametrize("seed", range(5))
def test_f1_optimal_threshold_beats_every_sample_threshold(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    probs = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    threshold, f1 = f1_optimal_threshold(labels, probs)
    brute = max(binary_metrics(labels, probs, t)["f1"] for t in np.unique(probs))
    assert f1 == pytest.approx(brute)
    assert binary_metrics(labels, probs, threshold)["f1"] == pytest.approx(brute)


def test_plots_write_pngs_and_handle_one_class(tmp_path) -> None:
    labels, probs = np.array([0, 1, 1, 0]), np.array([0.2, 0.8, 0.6, 0.4])
    paths = [
        save_confusion_png(labels, probs, 0.5, tmp_path / "c.png", "val"),
        save_roc_png(labels, probs, tmp_path / "roc.png", "val"),
        save_pr_png(labels, probs, tmp_path / "pr.png", "val"),
        save_roc_png(np.zeros(3), probs[:3], tmp_path / "roc_one.png", "train"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
