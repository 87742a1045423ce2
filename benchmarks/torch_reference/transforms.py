"""Per-image transforms of the PyTorch reference-style trainer, run in its DataLoader workers:
the resize, and the reference's training augmentation in the spec's order (flip, affine,
photometric distortion, CLAHE).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.torch_reference.clahe import clahe_grey, lab_to_rgb, rgb_to_lab
from benchmarks.torch_reference.settings import (
    AFFINE_P,
    AFFINE_SCALE,
    AFFINE_TRANSLATE,
    BRIGHTNESS,
    CLAHE_P,
    CONTRAST,
    FLIP_P,
    HUE,
    LUMA,
    PHOTOMETRIC_P,
    SATURATION,
)


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, h, w) -> (3, H, W): antialiased when shrinking, bilinear when enlarging."""
    if tuple(image.shape[1:]) == size:
        return image
    shrinking = size[0] < image.shape[1] or size[1] < image.shape[2]
    resized = F.interpolate(
        image[None], size=size, mode="bilinear", antialias=shrinking, align_corners=False
    )
    return resized[0]


def uniform(bounds: tuple[float, float]) -> float:
    # torch's generator, not numpy's: DataLoader seeds it differently in every worker.
    return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(()).item()


def chance(p: float) -> bool:
    return torch.rand(()).item() < p


def random_affine(image: torch.Tensor) -> torch.Tensor:
    """Scale about the centre and translate (no rotation), bilinear, fill 0."""
    scale = uniform(AFFINE_SCALE)
    # In grid_sample's [-1, 1] coordinates a shift of t pixels is 2 t / size.
    tx = 2 * uniform((-AFFINE_TRANSLATE, AFFINE_TRANSLATE))
    ty = 2 * uniform((-AFFINE_TRANSLATE, AFFINE_TRANSLATE))
    theta = torch.tensor([[1 / scale, 0, -tx / scale], [0, 1 / scale, -ty / scale]])
    grid = F.affine_grid(theta[None], [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None], grid, padding_mode="zeros", align_corners=False)[0]


def grey(image: torch.Tensor) -> torch.Tensor:
    return LUMA[0] * image[0] + LUMA[1] * image[1] + LUMA[2] * image[2]  # (H, W)


def blend(image: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * image + (1 - factor) * other).clamp(0, 1)


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> HSV with hue in [0, 1) (torchvision's formulas)."""
    r, g, b = image
    maxc, minc = image.max(0).values, image.min(0).values
    equal = maxc == minc
    chroma = maxc - minc
    saturation = chroma / torch.where(equal, torch.ones_like(maxc), maxc)
    divisor = torch.where(equal, torch.ones_like(chroma), chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue = torch.where(maxc == r, bc - gc, torch.zeros_like(r))
    hue = hue + torch.where((maxc == g) & (maxc != r), 2.0 + rc - bc, torch.zeros_like(r))
    hue = hue + torch.where((maxc != g) & (maxc != r), 4.0 + gc - rc, torch.zeros_like(r))
    return torch.stack([torch.remainder(hue / 6.0 + 1.0, 1.0), saturation, maxc])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    h, s, v = hsv[0:1], hsv[1:2], hsv[2:3]
    k = torch.remainder(torch.tensor([5.0, 3.0, 1.0])[:, None, None] + 6.0 * h, 6.0)
    return v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def adjust_hue(image: torch.Tensor, shift: float) -> torch.Tensor:
    hsv = rgb_to_hsv(image)
    hsv[0] = torch.remainder(hsv[0] + shift, 1.0)
    return hsv_to_rgb(hsv)


def random_photometric(image: torch.Tensor) -> torch.Tensor:
    """torchvision's RandomPhotometricDistort: each part with p = 0.5, contrast before or
    after the colour steps at random, then a random channel permutation."""
    contrast_first = chance(0.5)
    if chance(PHOTOMETRIC_P):
        image = (image * uniform(BRIGHTNESS)).clamp(0, 1)
    if contrast_first and chance(PHOTOMETRIC_P):
        image = blend(image, grey(image).mean(), uniform(CONTRAST))
    if chance(PHOTOMETRIC_P):
        image = blend(image, grey(image)[None], uniform(SATURATION))
    if chance(PHOTOMETRIC_P):
        image = adjust_hue(image, uniform(HUE))
    if not contrast_first and chance(PHOTOMETRIC_P):
        image = blend(image, grey(image).mean(), uniform(CONTRAST))
    if chance(PHOTOMETRIC_P):
        image = image[torch.randperm(3)]
    return image


def clahe(image: torch.Tensor) -> torch.Tensor:
    """CLAHE on the L channel of Lab of a (3, H, W) image in [0, 1], at 8-bit precision."""
    lab = rgb_to_lab(image.permute(1, 2, 0).numpy().astype(np.float64))
    lightness = np.clip(np.round(lab[..., 0] * 255 / 100), 0, 255).astype(np.uint8)
    lab[..., 0] = clahe_grey(lightness).astype(np.float64) * 100 / 255
    lab[..., 1:] = np.clip(np.round(lab[..., 1:]), -128, 127)  # 8-bit a, b as in OpenCV
    rgb = np.round(lab_to_rgb(lab) * 255) / 255
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1).contiguous()


def augment(image: torch.Tensor) -> torch.Tensor:
    """The reference's training augmentation of one (3, H, W) image, in the spec's order."""
    if chance(FLIP_P):
        image = image.flip(2)
    if chance(AFFINE_P):
        image = random_affine(image)
    image = random_photometric(image)
    if chance(CLAHE_P):
        image = clahe(image)
    return image
