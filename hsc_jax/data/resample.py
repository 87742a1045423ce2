"""One epoch's order of training examples under `--train_resampling`."""

from __future__ import annotations

import numpy as np

RESAMPLING_MODES = ("none", "weighted", "balanced")


def resample_indices(labels: np.ndarray, mode: str, rng: np.random.Generator) -> np.ndarray:
    """Indices into `labels` for one epoch.

    * `none`: a permutation of all examples.
    * `weighted`: N draws with replacement, each example weighted 1 / (count of its class), so
      every class is drawn equally often on average.
    * `balanced`: every class tiled up to the largest class's size, then shuffled; the partial
      last copy of a smaller class is a random subset, not always its first examples.
    """
    labels = np.asarray(labels)
    count = len(labels)
    if mode == "none":
        return rng.permutation(count)
    if mode not in RESAMPLING_MODES:
        raise ValueError(f"unknown resampling mode {mode!r}; expected one of {RESAMPLING_MODES}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    classes, inverse, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if mode == "weighted":
        weights = 1.0 / class_counts[inverse]
        return rng.choice(count, size=count, replace=True, p=weights / weights.sum())
    largest = int(class_counts.max())
    tiled = [
        np.resize(rng.permutation(np.flatnonzero(inverse == k)), largest)
        for k in range(len(classes))
    ]
    return rng.permutation(np.concatenate(tiled))
