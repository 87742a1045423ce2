"""Resampling modes for one training epoch."""

from __future__ import annotations

import numpy as np
import pytest

from hsc_jax.data.resample import RESAMPLING_MODES, resample_indices

LABELS = np.array([0] * 90 + [1] * 10, dtype=np.int32)


def test_none_is_a_permutation():
    indices = resample_indices(LABELS, "none", np.random.default_rng(0))
    assert sorted(indices.tolist()) == list(range(100))
    assert indices.tolist() != list(range(100))


def test_weighted_draws_n_with_classes_about_equal():
    indices = resample_indices(LABELS, "weighted", np.random.default_rng(0))
    assert len(indices) == 100
    big = resample_indices(np.repeat(LABELS, 100), "weighted", np.random.default_rng(1))
    share = np.repeat(LABELS, 100)[big].mean()
    assert abs(share - 0.5) < 0.03
    assert len(np.unique(indices)) < 100  # drawn with replacement


def test_balanced_tiles_every_class_to_the_largest():
    indices = resample_indices(LABELS, "balanced", np.random.default_rng(0))
    assert len(indices) == 180
    assert np.bincount(LABELS[indices]).tolist() == [90, 90]
    assert sorted(indices[LABELS[indices] == 0].tolist()) == list(range(90))
    assert np.bincount(indices[LABELS[indices] == 1] - 90).tolist() == [9] * 10


def test_balanced_partial_copy_is_random_and_counts_differ_by_at_most_one():
    labels = np.array([0] * 25 + [1] * 10)
    indices = resample_indices(labels, "balanced", np.random.default_rng(3))
    per_example = np.bincount(indices, minlength=35)[25:]
    assert sorted(set(per_example.tolist())) == [2, 3] and per_example.sum() == 25


@pytest.mark.parametrize("mode", RESAMPLING_MODES)
def test_same_seed_same_order_and_empty_input(mode):
    a = resample_indices(LABELS, mode, np.random.default_rng(5))
    b = resample_indices(LABELS, mode, np.random.default_rng(5))
    assert a.tolist() == b.tolist()
    assert resample_indices(np.zeros(0, dtype=np.int32), mode, np.random.default_rng(0)).size == 0


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="weighted"):
        resample_indices(LABELS, "oversample", np.random.default_rng(0))
