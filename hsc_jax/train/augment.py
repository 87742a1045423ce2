"""Training augmentation of whole batches inside jit, plus the rare host-side CLAHE.

The device part takes the uint8 cache batch and returns float32 in [0, 1]; every sample draws
its own parameters from one key, so a batch costs a handful of fused array ops and the host
never has to touch pixels. The spec's order: flip, affine, photometric distortion. CLAHE
(p = 0.01) needs OpenCV, so it runs on the host before the batch goes to the device.
"""

from __future__ import annotations

import cv2
import jax
import jax.numpy as jnp
import numpy as np

FLIP_P = 0.5
AFFINE_P = 0.4
AFFINE_TRANSLATE = 0.05  # fraction of width / height
AFFINE_SCALE = (0.9, 1.1)
PHOTOMETRIC_P = 0.5  # each part on its own
BRIGHTNESS = (0.875, 1.125)
CONTRAST = (0.5, 1.5)
SATURATION = (0.5, 1.5)
HUE = (-0.05, 0.05)
CLAHE_CLIP = 2.0
CLAHE_TILES = (4, 4)
# ITU-R 601 luma, as torchvision's grayscale (used by contrast and saturation).
_LUMA = (0.2989, 0.587, 0.114)


def augment_batch(images: jax.Array, key: jax.Array) -> jax.Array:
    """(B, H, W, 3) uint8 or [0, 1] float -> augmented (B, H, W, 3) float32 in [0, 1]."""
    x = images.astype(jnp.float32)
    if jnp.issubdtype(images.dtype, jnp.integer):
        x = x / 255.0
    flip_key, affine_key, photo_key = jax.random.split(key, 3)
    x = random_flip(x, flip_key)
    x = random_affine(x, affine_key)
    return random_photometric(x, photo_key)


def random_flip(x: jax.Array, key: jax.Array, p: float = FLIP_P) -> jax.Array:
    """Mirror each sample left-right with probability p."""
    flip = jax.random.bernoulli(key, p, (x.shape[0],))
    return jnp.where(flip[:, None, None, None], x[:, :, ::-1, :], x)


def _interpolation_matrix(
    size: int, scale: jax.Array, shift: jax.Array, dtype: jnp.dtype
) -> jax.Array:
    """(B, size, size) bilinear weights of one axis: out[i] = sum_j M[i, j] in[j].

    Output pixel i samples the input at (i - c - shift) / scale + c (c = the centre); the tent
    weights max(0, 1 - |src - j|) are bilinear interpolation, and sources outside the image
    simply get no weight, which is the zero fill.
    """
    positions = jnp.arange(size, dtype=dtype)
    centre = (size - 1) / 2.0
    source = (positions[None, :] - centre - shift[:, None]) / scale[:, None] + centre  # (B, size)
    return jax.nn.relu(1.0 - jnp.abs(source[:, :, None] - positions[None, None, :]))


def random_affine(
    x: jax.Array,
    key: jax.Array,
    p: float = AFFINE_P,
    translate: float = AFFINE_TRANSLATE,
    scale_range: tuple[float, float] = AFFINE_SCALE,
) -> jax.Array:
    """With probability p per sample: scale about the centre and translate, bilinear, fill 0.

    Without rotation the map is separable, so resampling is two small batched matmuls (rows,
    then columns) instead of a gather; untouched samples get the identity matrices exactly.
    """
    batch, height, width, _ = x.shape
    apply_key, scale_key, ty_key, tx_key = jax.random.split(key, 4)
    apply = jax.random.bernoulli(apply_key, p, (batch,))
    scale = jax.random.uniform(scale_key, (batch,), minval=scale_range[0], maxval=scale_range[1])
    ty = jax.random.uniform(ty_key, (batch,), minval=-1.0, maxval=1.0) * translate * height
    tx = jax.random.uniform(tx_key, (batch,), minval=-1.0, maxval=1.0) * translate * width
    scale = jnp.where(apply, scale, 1.0)
    ty = jnp.where(apply, ty, 0.0)
    tx = jnp.where(apply, tx, 0.0)
    rows = _interpolation_matrix(height, scale, ty, x.dtype)  # (B, H, H)
    cols = _interpolation_matrix(width, scale, tx, x.dtype)  # (B, W, W)
    x = jnp.einsum("bij,bjwc->biwc", rows, x)
    return jnp.einsum("bkw,bhwc->bhkc", cols, x)


def _grey(x: jax.Array) -> jax.Array:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b  # (B, H, W)


def adjust_brightness(x: jax.Array, factor: jax.Array) -> jax.Array:
    return jnp.clip(x * factor[:, None, None, None], 0.0, 1.0)


def adjust_contrast(x: jax.Array, factor: jax.Array) -> jax.Array:
    """Blend with the image's mean grey level (torchvision's rule)."""
    mean = _grey(x).mean(axis=(1, 2))[:, None, None, None]
    f = factor[:, None, None, None]
    return jnp.clip(f * x + (1.0 - f) * mean, 0.0, 1.0)


def adjust_saturation(x: jax.Array, factor: jax.Array) -> jax.Array:
    """Blend with the per-pixel grey level."""
    f = factor[:, None, None, None]
    return jnp.clip(f * x + (1.0 - f) * _grey(x)[..., None], 0.0, 1.0)


def rgb_to_hsv(x: jax.Array) -> jax.Array:
    """[0, 1] RGB -> HSV with hue in [0, 1) (torchvision's formulas)."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    maxc = jnp.max(x, axis=-1)
    minc = jnp.min(x, axis=-1)
    equal = maxc == minc
    chroma = maxc - minc
    saturation = chroma / jnp.where(equal, 1.0, maxc)
    divisor = jnp.where(equal, 1.0, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue_r = jnp.where(maxc == r, bc - gc, 0.0)
    hue_g = jnp.where((maxc == g) & (maxc != r), 2.0 + rc - bc, 0.0)
    hue_b = jnp.where((maxc != g) & (maxc != r), 4.0 + gc - rc, 0.0)
    hue = jnp.mod((hue_r + hue_g + hue_b) / 6.0 + 1.0, 1.0)
    return jnp.stack([hue, saturation, maxc], axis=-1)


def hsv_to_rgb(x: jax.Array) -> jax.Array:
    """HSV (hue in [0, 1)) -> RGB, in the closed form f(n) = v - v s clip(min(k, 4 - k), 0, 1)
    with k = (n + 6 h) mod 6 and n = 5, 3, 1 for R, G, B: the same values as the six-sector
    table, without building it (three times faster on CPU)."""
    h, s, v = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    k = jnp.mod(jnp.asarray([5.0, 3.0, 1.0], x.dtype) + 6.0 * h, 6.0)  # (..., 3)
    return v - v * s * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0)


def adjust_hue(x: jax.Array, shift: jax.Array) -> jax.Array:
    hsv = rgb_to_hsv(x)
    hue = jnp.mod(hsv[..., 0] + shift[:, None, None], 1.0)
    return hsv_to_rgb(jnp.concatenate([hue[..., None], hsv[..., 1:]], axis=-1))


def random_photometric(x: jax.Array, key: jax.Array, p: float = PHOTOMETRIC_P) -> jax.Array:
    """torchvision's RandomPhotometricDistort: each part with probability p, contrast placed
    before or after the colour steps at random, then a random channel permutation."""
    batch = x.shape[0]
    keys = jax.random.split(key, 11)
    applies = jax.random.bernoulli(keys[0], p, (5, batch))  # brightness, contrast, sat, hue, perm
    contrast_first = jax.random.bernoulli(keys[1], 0.5, (batch,))

    def uniform(k: jax.Array, bounds: tuple[float, float]) -> jax.Array:
        return jax.random.uniform(k, (batch,), minval=bounds[0], maxval=bounds[1])

    brightness = uniform(keys[2], BRIGHTNESS)
    contrast = uniform(keys[3], CONTRAST)
    saturation = uniform(keys[4], SATURATION)
    hue = uniform(keys[5], HUE)

    def where(mask: jax.Array, changed: jax.Array, original: jax.Array) -> jax.Array:
        return jnp.where(mask[:, None, None, None], changed, original)

    x = where(applies[0], adjust_brightness(x, brightness), x)
    x = where(applies[1] & contrast_first, adjust_contrast(x, contrast), x)
    x = where(applies[2], adjust_saturation(x, saturation), x)
    x = where(applies[3], adjust_hue(x, hue), x)
    x = where(applies[1] & ~contrast_first, adjust_contrast(x, contrast), x)
    order = jnp.argsort(jax.random.uniform(keys[6], (batch, 3)), axis=-1)
    order = jnp.where(applies[4][:, None], order, jnp.arange(3)[None, :])
    return jnp.take_along_axis(x, order[:, None, None, :], axis=-1)


def clahe_rgb(image: np.ndarray) -> np.ndarray:
    """CLAHE on the L channel of Lab (clip 2.0, 4x4 tiles) of one (H, W, 3) uint8 RGB image."""
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_TILES)
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)
    lab[..., 0] = clahe.apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def clahe_where(images: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """CLAHE on the images where `chosen` (bool per image) holds; a new array only when needed."""
    picked = np.flatnonzero(chosen)
    if picked.size == 0:
        return images
    out = images.copy()
    for i in picked:
        out[i] = clahe_rgb(images[i])
    return out
