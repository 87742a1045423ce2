"""CLAHE without OpenCV, for the PyTorch reference-style trainer (its interpreter has torch and
numpy only): OpenCV's algorithm on the L channel of 8-bit Lab, with sRGB / D65 conversions
written out. numpy only.
"""

from __future__ import annotations

import numpy as np

from benchmarks.torch_reference.settings import CLAHE_CLIP, CLAHE_TILES

_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = np.array([0.950456, 1.0, 1.088754])


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)


def _lab_f_inverse(f: np.ndarray) -> np.ndarray:
    return np.where(f > 0.206893, f**3, (f - 16 / 116) / 7.787)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] -> L in [0, 100], a, b."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    f = _lab_f((linear @ _RGB_TO_XYZ.T) / _WHITE)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    linear = np.clip((_lab_f_inverse(f) * _WHITE) @ np.linalg.inv(_RGB_TO_XYZ).T, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def clahe_lookup_tables(grey_u8: np.ndarray, tiles: int, clip: float) -> np.ndarray:
    """(tiles, tiles, 256) equalisation maps of the tiles, histograms clipped and the excess
    spread evenly (OpenCV's rule)."""
    h, w = grey_u8.shape
    th, tw = h // tiles, w // tiles
    blocks = grey_u8.reshape(tiles, th, tiles, tw).transpose(0, 2, 1, 3).reshape(tiles, tiles, -1)
    hist = np.stack([np.bincount(b, minlength=256) for b in blocks.reshape(tiles * tiles, -1)])
    limit = max(1, int(clip * th * tw / 256))
    excess = np.maximum(hist - limit, 0).sum(1, keepdims=True)
    hist = np.minimum(hist, limit) + excess // 256
    # The remainder goes one each to every step-th bin, step = 256 // remainder.
    residual = excess % 256
    step = np.maximum(256 // np.maximum(residual, 1), 1)
    bins = np.arange(256)[None, :]
    hist = hist + ((bins % step == 0) & (bins // step < residual))
    lut = np.clip(np.round(np.cumsum(hist, 1) * 255.0 / (th * tw)), 0, 255)
    return lut.reshape(tiles, tiles, 256)


def _tile_weights(length: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel along one axis: the two neighbouring tile centres and the second's weight."""
    position = np.arange(length) * tiles / length - 0.5
    first = np.floor(position).astype(int)
    weight = position - first
    return np.clip(first, 0, tiles - 1), np.clip(first + 1, 0, tiles - 1), weight


def clahe_grey(grey_u8: np.ndarray, tiles: int = CLAHE_TILES, clip: float = CLAHE_CLIP):
    """CLAHE of an (H, W) uint8 image: tile maps blended bilinearly between tile centres."""
    h, w = grey_u8.shape
    pad_h, pad_w = -h % tiles, -w % tiles
    padded = np.pad(grey_u8, ((0, pad_h), (0, pad_w)), mode="reflect")
    lut = clahe_lookup_tables(padded, tiles, clip)
    y0, y1, wy = _tile_weights(padded.shape[0], tiles)
    x0, x1, wx = _tile_weights(padded.shape[1], tiles)
    v = padded.astype(int)
    top = lut[y0[:, None], x0[None], v] * (1 - wx) + lut[y0[:, None], x1[None], v] * wx
    bottom = lut[y1[:, None], x0[None], v] * (1 - wx) + lut[y1[:, None], x1[None], v] * wx
    out = top * (1 - wy[:, None]) + bottom * wy[:, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)[:h, :w]
