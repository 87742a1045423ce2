"""Renders of a synthetic head's still image: shift, zoom, flip, photometric changes, noise, and
now and then blur, an occluder or grey (`augment`).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from hsc_jax.data.synth_drawing import color_tuple, ellipse, polyline, random_color
from hsc_jax.data.synth_faces import Still
from hsc_jax.data.synth_random import Draws

# Renders take their sensor noise from a fixed bank at a random offset: drawing fresh Gaussian
# noise per image was the largest cost of augmentation.
_NOISE_BANK_SEED = 20240601
# Within the canvas's margin around the output (synth_faces._CANVAS_SCALE).
_MAX_SHIFT = 0.03
_ZOOM_RANGE = (0.95, 1.05)


@functools.lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    rng = np.random.default_rng(_NOISE_BANK_SEED)
    return rng.standard_normal((4 * size, 4 * size, 3), dtype=np.float32)


def augment(still: Still, rng: Draws) -> np.ndarray:
    img = still.image
    if rng.random() < 0.12:
        img = _draw_occluder(img.copy(), still, rng)
    img = _crop(img, still, rng)
    if rng.random() < 0.15:
        sigma = rng.uniform(0.6, 1.4)
        img = cv2.GaussianBlur(img, (5, 5), sigma)
    img = _photometric(img, rng)
    if rng.random() < 0.1:  # grey renders, like the grey real crops
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        img = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    return img


def _crop(img: np.ndarray, still: Still, rng: Draws) -> np.ndarray:
    """Shift, zoom and maybe mirror: a square crop of the canvas resized to the output."""
    size = still.output_size
    canvas = img.shape[0]
    side = int(size / rng.uniform(*_ZOOM_RANGE))
    x0, y0 = (
        min(
            canvas - side,
            max(0, round((canvas - side) / 2 + rng.uniform(-1, 1) * _MAX_SHIFT * size)),
        )
        for _ in range(2)
    )
    crop = img[y0 : y0 + side, x0 : x0 + side]
    # Bilinear even when shrinking: the zoom stays within 5 %, where area filtering adds nothing.
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = cv2.flip(out, 1)
    return out


def _photometric(img: np.ndarray, rng: Draws) -> np.ndarray:
    size = img.shape[0]
    brightness = rng.uniform(0.75, 1.2)
    contrast = rng.uniform(0.8, 1.2)
    sigma = rng.uniform(1.0, 8.0)
    row, col = rng.integers(3 * size), rng.integers(3 * size)
    noise = _noise_bank(size)[row : row + size, col : col + size]
    mean = sum(cv2.mean(img)[:3]) / 3
    # (img - mean) * contrast + mean * brightness + noise * sigma, rounded and saturated to uint8.
    offset = mean * (brightness - contrast)
    return cv2.addWeighted(img, contrast, noise, sigma, offset, dtype=cv2.CV_8U)


def _draw_occluder(img: np.ndarray, still: Still, rng: Draws) -> np.ndarray:
    """Something in front of the face that never hides the whole mouth (labels stay true)."""
    cx, cy = still.face_center
    half_w = still.face_half_width
    kind = rng.integers(3)
    if kind == 0:  # sunglasses
        lens = (half_w * 0.3, half_w * 0.2)
        for side in (-1, 1):
            ellipse(img, (cx + side * still.eye_dx, still.eye_y), lens, (15, 15, 20))
    elif kind == 1:  # hand or object entering from one side, up to one mouth corner
        side = rng.choice([-1, 1])
        center = (cx + side * half_w * rng.uniform(1.0, 1.3), cy + half_w * rng.uniform(0, 1.2))
        color = still.skin if rng.random() < 0.5 else color_tuple(random_color(rng))
        ellipse(img, center, (half_w * 0.55, half_w * 0.35), color, angle=rng.uniform(0, 180))
    else:  # strand of hair or a cap brim across the forehead
        y = still.eye_y - half_w * rng.uniform(0.35, 0.6)
        band = np.array([[cx - half_w * 1.2, y], [cx + half_w * 1.2, y + rng.uniform(-3, 3)]])
        polyline(img, band, color_tuple(random_color(rng)), half_w * rng.uniform(0.1, 0.25))
    return img
