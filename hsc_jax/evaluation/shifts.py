"""FERPlus-shift: the fixed, seeded image shifts that a face crop meets outside FER2013.

Each shift is a function `(image, rng) -> image` on a uint8 (H, W) or (H, W, 3) BGR crop: it
draws its parameters from `rng`, then applies them, and returns a uint8 image of the input's
shape. Parameters in pixels are stated at 48x48 (FERPlus's size) and scale with the image's side.

This is a test set, not an augmentation recipe: the shifts, their ranges and their seeds are
frozen under `SHIFT_SET_VERSION`. Any change to what a shift draws or does needs a new version,
or scores stop being comparable (tests/test_shifts.py pins the draws). Each image's generator
comes from (BASE_SEED, the shift's name, the image's index), so adding, removing or reordering
shifts or faces never changes another draw, and `--limit N` sees the same first N images.

`detector_crop`, the crop a face detector cuts from a real photograph, needs a detector and
photographs, so `benchmarks.robustness.detector_crop` builds it; it is named here to complete
the set.

numpy and OpenCV only, so the benchmark and tests import it without JAX.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

SHIFT_SET_VERSION = "ferplus-shift-v1"
BASE_SEED = 20261206
REFERENCE_SIDE = 48  # the side at which pixel parameters are stated

Params = dict[str, Any]


@dataclass(frozen=True)
class Shift:
    """A named shift: `draw` picks one image's parameters, `apply` uses them."""

    name: str
    summary: str  # its parameter ranges, for reports
    draw: Callable[[np.random.Generator], Params]
    apply: Callable[..., np.ndarray]  # (image, **params) -> image

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(image, **self.draw(rng))


def shift_rng(name: str, index: int) -> np.random.Generator:
    """The generator of image `index` under shift `name`: independent of every other pair."""
    name_key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([BASE_SEED, name_key, index])


def _pixels(image: np.ndarray, at_48: float) -> float:
    return at_48 * min(image.shape[:2]) / REFERENCE_SIDE


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    # Replicated border, not reflected: a reflection would mirror the mouth and eyes into the
    # border, a second (flipped) face part that no camera frame shows; replicated edge pixels
    # add no facial feature. Neither is the real context (hair, neck, background) a camera adds.
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


# --- framing: the detector's box around the face differs from FER2013's ------------------------


def draw_scale(rng: np.random.Generator) -> Params:
    # The face's side in the 48 px crop, 32-64 px but never 48 (that would be no shift): the
    # crop is 48 / side = 0.75-1.5 times the face box, half the draws zooming out, half in.
    side = int(rng.integers(32, 64))
    return {"face_side": side + 1 if side >= REFERENCE_SIDE else side}


def scale_factor(face_side: int) -> float:
    """The crop's side over the face box's: > 1 zooms out."""
    return REFERENCE_SIDE / face_side


def scale(image: np.ndarray, face_side: int) -> np.ndarray:
    """A crop `scale_factor(face_side)` times the face box on the same centre, so the face is
    `face_side` px (at 48): smaller zooms out (the replicated border shows), larger zooms in
    (the face's edges are cut off)."""
    h, w = image.shape[:2]
    # Resized as the contract resizes a crop (area when shrinking, bilinear when enlarging),
    # then padded or cut to the original size on the same centre.
    new_h, new_w = round(h * face_side / REFERENCE_SIDE), round(w * face_side / REFERENCE_SIDE)
    shrink = face_side < REFERENCE_SIDE
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if shrink:
        top, left = (h - new_h) // 2, (w - new_w) // 2
        # Replicated, as `_warp` fills its border (why: there).
        return cv2.copyMakeBorder(
            resized, top, h - new_h - top, left, w - new_w - left, cv2.BORDER_REPLICATE
        )
    top, left = (new_h - h) // 2, (new_w - w) // 2
    return np.ascontiguousarray(resized[top : top + h, left : left + w])


def draw_offcentre(rng: np.random.Generator) -> Params:
    dx, dy = rng.uniform(-0.15, 0.15, size=2)
    return {"dx": float(dx), "dy": float(dy)}


def offcentre(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The crop moved by `dx`, `dy` of its width and height (the face moves the other way)."""
    h, w = image.shape[:2]
    matrix = np.float32([[1, 0, -dx * w], [0, 1, -dy * h]])
    return _warp(image, matrix)


def draw_rotation(rng: np.random.Generator) -> Params:
    return {"degrees": float(rng.uniform(-20.0, 20.0))}


def rotation(image: np.ndarray, degrees: float) -> np.ndarray:
    """In-plane rotation about the centre (a tilted head), anticlockwise for positive degrees."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return _warp(image, matrix)


# --- resolution, blur, compression, sensor ------------------------------------------------------


def draw_low_resolution(rng: np.random.Generator) -> Params:
    return {"side": int(rng.integers(16, 25))}


def low_resolution(image: np.ndarray, side: int) -> np.ndarray:
    """A small face in a large frame: down to `side` px (at 48) by area, back up by bilinear."""
    h, w = image.shape[:2]
    small = max(1, round(_pixels(image, side)))
    down = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
    return cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)


def draw_gaussian_blur(rng: np.random.Generator) -> Params:
    return {"sigma": float(rng.uniform(0.8, 1.6))}


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Defocus: a Gaussian of `sigma` px at 48 px."""
    return cv2.GaussianBlur(image, (0, 0), sigmaX=_pixels(image, sigma))


def draw_motion_blur(rng: np.random.Generator) -> Params:
    return {"length": int(rng.integers(5, 10)), "degrees": float(rng.uniform(0.0, 180.0))}


def motion_kernel(length: float, degrees: float) -> np.ndarray:
    """A normalised line `length` px long through the centre of an odd square kernel."""
    size = int(np.ceil(length)) | 1
    centre = (size - 1) / 2
    row = np.zeros((size, size), np.float32)
    # A line of `length` taps centred on the middle: whole taps, plus a part-tap at each end
    # when the length is even, so that the blur does not also shift the image.
    offsets = np.arange(size) - centre
    row[size // 2] = np.clip((length / 2 + 0.5) - np.abs(offsets), 0, 1)
    rotate = cv2.getRotationMatrix2D((centre, centre), degrees, 1.0)
    kernel = cv2.warpAffine(row, rotate, (size, size), flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


def motion_blur(image: np.ndarray, length: int, degrees: float) -> np.ndarray:
    """A head or camera moving during the exposure: a `length`-px line kernel at `degrees`."""
    kernel = motion_kernel(_pixels(image, length), degrees)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def draw_jpeg(rng: np.random.Generator) -> Params:
    return {"quality": int(rng.integers(20, 61))}


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """A real JPEG round trip (OpenCV's libjpeg; 4:2:0 chroma for colour) at `quality`."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).reshape(image.shape)


def draw_noise(rng: np.random.Generator) -> Params:
    return {
        "sigma": float(rng.uniform(6.0, 15.0)),
        "shot_gain": float(rng.uniform(0.0, 0.3)),
        "seed": int(rng.integers(2**32)),
    }


def noise(image: np.ndarray, sigma: float, shot_gain: float, seed: int) -> np.ndarray:
    """Sensor noise, independent per pixel and channel as a camera gives it: read noise of
    `sigma` grey levels plus shot noise of variance `shot_gain` x the level (brighter pixels
    are noisier)."""
    values = image.astype(np.float32)
    std = np.sqrt(sigma**2 + shot_gain * values)
    return _to_uint8(values + std * np.random.default_rng(seed).standard_normal(image.shape))


# --- exposure and colour ------------------------------------------------------------------------


def _dark_or_bright(rng: np.random.Generator, dark: tuple[float, float], bright: tuple) -> float:
    low, high = dark if rng.random() < 0.5 else bright
    return float(rng.uniform(low, high))


def draw_brightness(rng: np.random.Generator) -> Params:
    return {"factor": _dark_or_bright(rng, (0.5, 0.75), (1.3, 1.6))}


def brightness(image: np.ndarray, factor: float) -> np.ndarray:
    """Under- or over-exposure: every level times `factor`, clipped (highlights saturate)."""
    return _to_uint8(image.astype(np.float32) * factor)


def draw_contrast(rng: np.random.Generator) -> Params:
    return {"factor": float(rng.uniform(0.4, 0.7))}


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Flat light or haze: distances from the image's mean level times `factor`."""
    values = image.astype(np.float32)
    mean = float(values.mean())
    return _to_uint8(mean + factor * (values - mean))


def draw_gamma(rng: np.random.Generator) -> Params:
    return {"gamma": _dark_or_bright(rng, (0.5, 0.7), (1.5, 2.2))}


def gamma(image: np.ndarray, gamma: float) -> np.ndarray:
    """A different tone curve: 255 * (level / 255) ** gamma (< 1 lifts shadows, > 1 darkens)."""
    table = _to_uint8(255.0 * (np.arange(256) / 255.0) ** gamma)
    return cv2.LUT(image, table)


def draw_colour_cast(rng: np.random.Generator) -> Params:
    gain_b, gain_g, gain_r = rng.uniform(0.75, 1.25, size=3)
    return {"gain_b": float(gain_b), "gain_g": float(gain_g), "gain_r": float(gain_r)}


def colour_cast(image: np.ndarray, gain_b: float, gain_g: float, gain_r: float) -> np.ndarray:
    """A camera's white balance on a colour frame: each BGR channel times its own gain, so the
    model's colour-to-grey step sees what a webcam gives. A grey (H, W) image comes back grey,
    as that colour frame turned grey (OpenCV's BGR -> grey weights)."""
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    cast = _to_uint8(colour.astype(np.float32) * np.float32([gain_b, gain_g, gain_r]))
    return cast if image.ndim == 3 else cv2.cvtColor(cast, cv2.COLOR_BGR2GRAY)


def identity(image: np.ndarray) -> np.ndarray:
    return image.copy()


IMAGE_SHIFTS: dict[str, Shift] = {
    shift.name: shift
    for shift in (
        Shift("identity", "no shift (FERPlus test itself)", lambda rng: {}, identity),
        Shift(
            "scale",
            "crop 0.75-1.5x the face box (face 32-64 px), replicated border",
            draw_scale,
            scale,
        ),
        Shift("offcentre", "crop moved up to 15 % in x and y", draw_offcentre, offcentre),
        Shift("rotation", "-20 to +20 degrees", draw_rotation, rotation),
        Shift(
            "low_resolution",
            "down to 16-24 px (area), back to 48 (bilinear)",
            draw_low_resolution,
            low_resolution,
        ),
        Shift("gaussian_blur", "sigma 0.8-1.6 px", draw_gaussian_blur, gaussian_blur),
        Shift("motion_blur", "line 5-9 px, any angle", draw_motion_blur, motion_blur),
        Shift("jpeg", "quality 20-60", draw_jpeg, jpeg),
        Shift("noise", "Gaussian sigma 6-15 + shot noise 0-0.3 x level", draw_noise, noise),
        Shift("brightness", "x0.5-0.75 or x1.3-1.6", draw_brightness, brightness),
        Shift("contrast", "x0.4-0.7 about the mean", draw_contrast, contrast),
        Shift("gamma", "0.5-0.7 or 1.5-2.2", draw_gamma, gamma),
        Shift("colour_cast", "BGR gains 0.75-1.25 each", draw_colour_cast, colour_cast),
    )
}
IDENTITY = "identity"
DETECTOR_CROP = "detector_crop"
DETECTOR_CROP_SUMMARY = "pasted into a photograph at 60-220 px, found by YuNet, contract crop"
# Every row of the benchmark, in report order; FERPlus-shift F1 is the mean over all but identity.
SHIFT_NAMES = (*IMAGE_SHIFTS, DETECTOR_CROP)
SCORED_SHIFTS = tuple(name for name in SHIFT_NAMES if name != IDENTITY)


def apply_shift(name: str, image: np.ndarray, index: int) -> np.ndarray:
    """Image `index` of the benchmark under shift `name`, with its own fixed draw."""
    return IMAGE_SHIFTS[name](image, shift_rng(name, index))
