"""Augmentation for faces unlike the training set's, inside jit (`--augment wild`).

The reference's augmentation (augment.py) barely moves a FERPlus face: no rotation, 5 % shifts,
no blur or noise. Cameras, phones and archives give faces framed looser or tighter and
off-centre, tilted, blurred, scaled up from a few pixels, noisy, and lit otherwise. After the
reference's steps, each sample gets at most one of these kinds (a share of the samples, 0.6 by
default and split evenly between the kinds, the rest left clean), as a camera tends to spoil a
face in one way at a time:

1. geometry: rotation, scale and translation in one bilinear warp whose outside repeats the
   edge pixels (a looser crop shows more of the head's surroundings, not black);
2. resolution: one of a bank of fixed row/column filters (Gaussian blur, horizontal or vertical
   motion blur, down to 16-32 px and back up), applied as two batched matmuls;
3. light: gamma, a wider brightness range, and sensor noise, each with its own probability.

Stacking them all (each with its own probability, so nine samples in ten got at least one) left
many faces unrecognisable, and an S run learnt nothing in two epochs.

Each filter of the bank is a fixed (size, size) matrix built once with numpy, so a batch costs
a gather of matrices and two einsums whatever filter each sample drew.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# The share of the samples spoilt (--wild_share): warped, resampled and relit in equal parts.
SPOILT_SHARE = 0.6
KINDS = 3
ROTATION_DEGREES = 20.0
SCALE = (0.8, 1.3)  # > 1 enlarges the face (a tighter crop); < 1 shows more around it
TRANSLATE = 0.12  # fraction of width / height
GAUSSIAN_SIGMAS = (0.7, 1.1, 1.5)  # pixels at 48 px
MOTION_LENGTHS = (3, 5, 7)
LOW_RESOLUTIONS = (16, 20, 24, 32)
GAMMA_P = 0.5  # of the relit samples
GAMMA = (0.5, 2.0)  # drawn log-uniformly
BRIGHTNESS_P = 0.5
BRIGHTNESS = (0.55, 1.5)
NOISE_P = 0.5
NOISE_SIGMA = (2.0 / 255, 14.0 / 255)


def augment_wild(x: jax.Array, key: jax.Array, spoilt_share: float = SPOILT_SHARE) -> jax.Array:
    """(B, H, W, 3) float32 in [0, 1] -> the same, each sample clean or, with probability
    `spoilt_share`, spoilt in one way."""
    kind_key, geometry_key, resample_key, light_key = jax.random.split(key, 4)
    shares = jnp.array((1.0 - spoilt_share,) + (spoilt_share / KINDS,) * KINDS)
    kind = jax.random.choice(kind_key, KINDS + 1, (x.shape[0],), p=shares)
    x = random_warp(x, geometry_key, kind == 1)
    x = random_resample(x, resample_key, kind == 2)
    return random_light(x, light_key, kind == 3)


def random_warp(x: jax.Array, key: jax.Array, apply: jax.Array) -> jax.Array:
    """Rotate, scale and translate about the centre where `apply` (B,) holds; edge pixels
    repeat."""
    batch, height, width, _ = x.shape
    keys = jax.random.split(key, 5)
    angle = jnp.deg2rad(
        jax.random.uniform(keys[1], (batch,), minval=-ROTATION_DEGREES, maxval=ROTATION_DEGREES)
    )
    scale = jnp.exp(
        jax.random.uniform(keys[2], (batch,), minval=np.log(SCALE[0]), maxval=np.log(SCALE[1]))
    )
    shift_y = jax.random.uniform(keys[3], (batch,), minval=-1.0, maxval=1.0) * TRANSLATE * height
    shift_x = jax.random.uniform(keys[4], (batch,), minval=-1.0, maxval=1.0) * TRANSLATE * width
    angle, scale = jnp.where(apply, angle, 0.0), jnp.where(apply, scale, 1.0)
    shift_y, shift_x = jnp.where(apply, shift_y, 0.0), jnp.where(apply, shift_x, 0.0)

    # Output pixel p samples the input at R(-angle) (p - c - shift) / scale + c.
    ys, xs = jnp.meshgrid(jnp.arange(height, dtype=x.dtype), jnp.arange(width, dtype=x.dtype))
    ys, xs = ys.T, xs.T  # (H, W)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    dy = ys[None] - cy - shift_y[:, None, None]
    dx = xs[None] - cx - shift_x[:, None, None]
    cos, sin = jnp.cos(angle)[:, None, None], jnp.sin(angle)[:, None, None]
    source_y = (cos * dy - sin * dx) / scale[:, None, None] + cy
    source_x = (sin * dy + cos * dx) / scale[:, None, None] + cx
    warped = jax.vmap(_sample_bilinear)(x, source_y, source_x)
    return jnp.where(apply[:, None, None, None], warped, x)


def _sample_bilinear(image: jax.Array, ys: jax.Array, xs: jax.Array) -> jax.Array:
    """(H, W, C) sampled at float (H, W) positions, clamped to the edge (replicate border)."""
    height, width = image.shape[:2]
    ys = jnp.clip(ys, 0.0, height - 1.0)
    xs = jnp.clip(xs, 0.0, width - 1.0)
    y0, x0 = jnp.floor(ys), jnp.floor(xs)
    wy, wx = (ys - y0)[..., None], (xs - x0)[..., None]
    y0, x0 = y0.astype(jnp.int32), x0.astype(jnp.int32)
    y1, x1 = jnp.minimum(y0 + 1, height - 1), jnp.minimum(x0 + 1, width - 1)
    top = image[y0, x0] * (1 - wx) + image[y0, x1] * wx
    bottom = image[y1, x0] * (1 - wx) + image[y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)  # rows sum to 1: edges keep their level


def _box_matrix(size: int, length: int) -> np.ndarray:
    offsets = np.abs(np.arange(size)[:, None] - np.arange(size)[None, :])
    weights = (offsets <= length // 2).astype(np.float64)
    return weights / weights.sum(axis=1, keepdims=True)


def _area_down_linear_up(size: int, low: int) -> np.ndarray:
    """(size, size): area-average down to `low` pixels, then bilinear back up, as OpenCV's
    INTER_AREA then INTER_LINEAR resize would (half-pixel centres)."""
    down = np.zeros((low, size))
    edges = np.linspace(0.0, size, low + 1)
    for i in range(low):
        for j in range(size):
            down[i, j] = max(0.0, min(edges[i + 1], j + 1) - max(edges[i], j))
    down /= down.sum(axis=1, keepdims=True)
    source = np.clip((np.arange(size) + 0.5) * low / size - 0.5, 0.0, low - 1.0)
    up = np.maximum(0.0, 1.0 - np.abs(source[:, None] - np.arange(low)[None, :]))
    return up @ down


@functools.cache
def resample_bank(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, size, size) row filters and column filters; entry 0 is the identity."""
    eye = np.eye(size)
    rows, cols = [eye], [eye]
    for sigma in GAUSSIAN_SIGMAS:
        blur = _gaussian_matrix(size, sigma)
        rows.append(blur)
        cols.append(blur)
    for length in MOTION_LENGTHS:  # a streak along one axis
        streak = _box_matrix(size, length)
        rows += [streak, eye]
        cols += [eye, streak]
    for low in LOW_RESOLUTIONS:
        resample = _area_down_linear_up(size, low)
        rows.append(resample)
        cols.append(resample)
    return np.stack(rows).astype(np.float32), np.stack(cols).astype(np.float32)


def random_resample(x: jax.Array, key: jax.Array, apply: jax.Array) -> jax.Array:
    """Where `apply` (B,) holds, one filter of the bank (uniformly), else the identity."""
    batch, height, width, _ = x.shape
    if height != width:
        raise ValueError(f"--augment wild needs square images, got {height}x{width}")
    rows, cols = resample_bank(height)
    pick = jax.random.randint(key, (batch,), 1, len(rows))
    pick = jnp.where(apply, pick, 0)
    row_filters = jnp.asarray(rows, x.dtype)[pick]  # (B, H, H)
    col_filters = jnp.asarray(cols, x.dtype)[pick]  # (B, W, W)
    x = jnp.einsum("bij,bjwc->biwc", row_filters, x)
    return jnp.einsum("bkw,bhwc->bhkc", col_filters, x)


def random_light(x: jax.Array, key: jax.Array, apply: jax.Array) -> jax.Array:
    """Where `apply` (B,) holds: gamma, brightness and Gaussian sensor noise, each with its own
    probability."""
    batch = x.shape[0]
    keys = jax.random.split(key, 7)

    def draw(k: jax.Array, bounds: tuple[float, float], log: bool = False) -> jax.Array:
        low, high = (np.log(bounds[0]), np.log(bounds[1])) if log else bounds
        value = jax.random.uniform(k, (batch,), minval=low, maxval=high)
        return (jnp.exp(value) if log else value)[:, None, None, None]

    def chosen(k: jax.Array, p: float) -> jax.Array:
        return (jax.random.bernoulli(k, p, (batch,)) & apply)[:, None, None, None]

    gamma = draw(keys[0], GAMMA, log=True)
    x = jnp.where(chosen(keys[1], GAMMA_P), jnp.power(jnp.maximum(x, 1e-6), gamma), x)
    brightness = draw(keys[2], BRIGHTNESS, log=True)
    x = jnp.where(chosen(keys[3], BRIGHTNESS_P), jnp.clip(x * brightness, 0.0, 1.0), x)
    sigma = draw(keys[4], NOISE_SIGMA)
    # One noise field for all three channels: grey-mode models see luma, and colour sensors'
    # noise is mostly in luma too.
    noise = jax.random.normal(keys[5], x.shape[:3] + (1,), x.dtype) * sigma
    return jnp.where(chosen(keys[6], NOISE_P), jnp.clip(x + noise, 0.0, 1.0), x)
