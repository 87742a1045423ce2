"""The contract a run trains under: grey only when every training image is grey."""

from __future__ import annotations

import numpy as np

from hsc_jax.train.contract import is_grey
from hsc_jax.train.pipeline import DATA_ORDER_RULE, ORDER_STREAM, plan_epoch


def _grey_set(count: int) -> np.ndarray:
    values = np.random.default_rng(0).integers(0, 256, (count, 8, 8, 1), dtype=np.uint8)
    return np.repeat(values, 3, axis=-1)


def test_a_grey_set_is_grey():
    assert is_grey(_grey_set(10))


def test_one_colour_image_among_thousands_makes_the_set_rgb():
    images = _grey_set(5001)
    images[4999, 3, 3] = (10, 200, 30)  # not on any stride a sample would take
    assert not is_grey(images)


def test_an_empty_set_is_not_called_grey():
    assert not is_grey(np.zeros((0, 8, 8, 3), np.uint8))


def test_the_recorded_data_order_rule_is_the_one_plan_epoch_follows():
    from hsc_jax.data.resample import resample_indices

    labels = np.array([0, 1] * 20)
    plan = plan_epoch(labels, "balanced", seed=3, epoch=2, batch_size=8)
    rng = np.random.default_rng([3, ORDER_STREAM, 2])
    expected = resample_indices(labels, "balanced", rng)[: plan.steps * 8]
    np.testing.assert_array_equal(plan.batches.reshape(-1), expected)
    assert f"[seed, {ORDER_STREAM}, epoch]" in DATA_ORDER_RULE
