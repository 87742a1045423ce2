"""OpenCV drawing primitives for the synthetic heads: sub-pixel shapes, colours, smooth fields.

All coordinates are float pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from hsc_jax.data.synth_random import Draws

# cv2 drawing takes fixed-point coordinates with this many fractional bits: sub-pixel geometry
# keeps small faces smooth without drawing at a higher resolution and downscaling.
_SHIFT = 4
_SCALE = 1 << _SHIFT


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _SCALE)), int(round(y * _SCALE))


def ellipse(img, center, axes, color, angle=0.0, start=0, end=360, thickness=-1) -> None:
    axes_fixed = (max(1, int(axes[0] * _SCALE)), max(1, int(axes[1] * _SCALE)))
    cv2.ellipse(
        img, _pt(*center), axes_fixed, angle, start, end, color, thickness, cv2.LINE_AA, _SHIFT
    )


def polyline(img, points: np.ndarray, color, thickness: float) -> None:
    fixed = np.round(points * _SCALE).astype(np.int32)
    cv2.polylines(img, [fixed], False, color, max(1, int(round(thickness))), cv2.LINE_AA, _SHIFT)


def fill(img, points: np.ndarray, color) -> None:
    fixed = np.round(points * _SCALE).astype(np.int32)
    cv2.fillPoly(img, [fixed], color, cv2.LINE_AA, _SHIFT)


def color_tuple(rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    return min(255, max(0, int(r))), min(255, max(0, int(g))), min(255, max(0, int(b)))


def random_color(rng: Draws) -> np.ndarray:
    return rng.uniform(20, 235, size=3)


def smooth_field(corners: np.ndarray, size: int) -> np.ndarray:
    """Bilinear blend of a (2, 2, C) grid of values over a (size, size, C) float32 field."""
    return cv2.resize(corners.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
