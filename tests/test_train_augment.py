"""Training augmentation alone: shapes, ranges and the identities each op must keep."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hsc_jax.train import augment


def _batch(seed: int = 0, shape=(8, 12, 10, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_augment_batch_shape_dtype_range():
    images = _batch()
    out = jax.jit(augment.augment_batch)(jnp.asarray(images), jax.random.key(1))
    assert out.shape == images.shape
    assert out.dtype == jnp.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_augment_batch_is_deterministic_in_the_key():
    images = jnp.asarray(_batch())
    augment_batch = jax.jit(augment.augment_batch)
    a = augment_batch(images, jax.random.key(3))
    b = augment_batch(images, jax.random.key(3))
    c = augment_batch(images, jax.random.key(4))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_flip_always_and_never():
    x = jnp.asarray(_batch(), jnp.float32)
    np.testing.assert_array_equal(augment.random_flip(x, jax.random.key(0), p=1.0), x[:, :, ::-1])
    np.testing.assert_array_equal(augment.random_flip(x, jax.random.key(0), p=0.0), x)


def test_flip_probability_is_about_half():
    x = jnp.arange(4.0).reshape(1, 1, 4, 1) * jnp.ones((4000, 1, 1, 3))
    flipped = augment.random_flip(x, jax.random.key(5))
    share = float(jnp.mean(flipped[:, 0, 0, 0] == 3.0))
    assert 0.45 < share < 0.55


def test_affine_identity_when_not_applied_or_trivial():
    x = jnp.asarray(_batch(), jnp.float32) / 255.0
    np.testing.assert_allclose(augment.random_affine(x, jax.random.key(0), p=0.0), x, atol=1e-6)
    same = augment.random_affine(x, jax.random.key(0), p=1.0, translate=0.0, scale_range=(1.0, 1.0))
    np.testing.assert_allclose(same, x, atol=1e-6)


def test_affine_shrink_fills_border_with_zero():
    x = jnp.ones((2, 20, 20, 3))
    out = augment.random_affine(x, jax.random.key(0), p=1.0, translate=0.0, scale_range=(0.5, 0.5))
    assert float(out[:, 0, 0].max()) == 0.0  # corners come from outside the image
    np.testing.assert_allclose(out[:, 10, 10], 1.0, atol=1e-6)  # the centre stays


def test_affine_translation_by_whole_pixels_shifts():
    x = jnp.asarray(_batch(shape=(1, 20, 20, 3)), jnp.float32)
    rows = augment._interpolation_matrix(20, jnp.ones(1), jnp.full((1,), 1.0), jnp.float32)
    shifted = jnp.einsum("bij,bjwc->biwc", rows, x)
    np.testing.assert_allclose(shifted[0, 1:], x[0, :-1], atol=1e-5)
    np.testing.assert_allclose(shifted[0, 0], 0.0)


def test_affine_parameters_stay_in_range():
    # A one-hot column at the centre moves by the translation alone: at most 5 % of the width.
    x = jnp.zeros((500, 1, 41, 1)).at[:, :, 20, :].set(1.0)
    out = augment.random_affine(x, jax.random.key(2), p=1.0)
    centre = jnp.sum(out[:, 0, :, 0] * jnp.arange(41), axis=1) / jnp.sum(out[:, 0, :, 0], axis=1)
    shift = jnp.abs(centre - 20.0)  # sub-pixel tents move the centroid by a little more
    assert float(jnp.max(shift)) <= 0.05 * 41 + 0.1
    assert float(jnp.max(shift)) > 1.0  # and translations do happen


def test_hsv_round_trip():
    x = jnp.asarray(np.random.default_rng(0).random((4, 6, 6, 3), dtype=np.float32))
    np.testing.assert_allclose(augment.hsv_to_rgb(augment.rgb_to_hsv(x)), x, atol=1e-5)


def test_photometric_keeps_range_and_grey_stays_grey_without_permutation_effect():
    grey = jnp.broadcast_to(jnp.linspace(0, 1, 16)[None, :, None, None], (64, 16, 4, 3))
    out = jax.jit(augment.random_photometric)(grey, jax.random.key(0))
    assert out.shape == grey.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    # Saturation, hue and channel order cannot colour a grey image.
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-5)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-5)


def test_brightness_and_contrast_factors():
    x = jnp.full((3, 4, 4, 3), 0.5)
    out = augment.adjust_brightness(x, jnp.array([0.875, 1.0, 1.125]))
    np.testing.assert_allclose(out[:, 0, 0, 0], [0.4375, 0.5, 0.5625], atol=1e-6)
    ramp = jnp.broadcast_to(jnp.linspace(0, 1, 4)[None, :, None, None], (1, 4, 4, 3))
    flat = augment.adjust_contrast(ramp, jnp.array([0.0]))
    np.testing.assert_allclose(flat, jnp.full_like(ramp, ramp.mean()), atol=1e-3)


def test_channel_permutation_only_reorders(monkeypatch: pytest.MonkeyPatch):
    x = jnp.asarray(np.random.default_rng(1).random((256, 2, 2, 3), dtype=np.float32))
    np.testing.assert_allclose(augment.random_photometric(x, jax.random.key(7), p=0.0), x)
    # Brightness, contrast, saturation and hue at their identity: with p = 1 what is left of the
    # photometric step is the channel permutation.
    for name, identity in (("BRIGHTNESS", 1.0), ("CONTRAST", 1.0), ("SATURATION", 1.0)):
        monkeypatch.setattr(augment, name, (identity, identity))
    monkeypatch.setattr(augment, "HUE", (0.0, 0.0))
    out = np.asarray(augment.random_photometric(x, jax.random.key(0), p=1.0))
    x = np.asarray(x)
    permutations = list(itertools.permutations(range(3)))
    chosen = []
    for image, moved in zip(x, out, strict=True):
        errors = [np.abs(image[..., list(order)] - moved).max() for order in permutations]
        assert min(errors) < 1e-5  # every image is its own channels, reordered
        chosen.append(permutations[int(np.argmin(errors))])
    # Six orders drawn evenly: about 5/6 of the images change, and every order occurs.
    assert sum(order != (0, 1, 2) for order in chosen) > 180
    assert set(chosen) == set(permutations)


def test_clahe_where_changes_only_the_chosen_images():
    images = _batch(shape=(3, 32, 32, 3))
    assert augment.clahe_where(images, np.zeros(3, bool)) is images  # nothing chosen: no copy
    out = augment.clahe_where(images, np.array([False, True, False]))
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], augment.clahe_rgb(images[1]))
    assert not np.array_equal(out[1], images[1])
    np.testing.assert_array_equal(out[[0, 2]], images[[0, 2]])
