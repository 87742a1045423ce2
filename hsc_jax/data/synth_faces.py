"""Drawing one synthetic head's still image: face parameters and the face drawn with OpenCV.

`draw_still` draws a still image (skin, head geometry, hair, eyes, mouth, lighting, background,
tilt) once; `synth_renders.augment` renders it again with small shifts, zooms, flips,
photometric changes and now and then blur, an occluder or grey. `synth.py` assembles these
renders into a dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from hsc_jax.data.synth_drawing import (
    color_tuple,
    ellipse,
    fill,
    polyline,
    random_color,
    smooth_field,
)
from hsc_jax.data.synth_random import Draws

# Canvas side relative to the output: room for the tilt, shifts and zooms of the
# renders (synth_renders) without borders.
_CANVAS_SCALE = 1.25

# Skin tones from light to dark (RGB); a still interpolates between two neighbours.
_SKIN_PALETTE = np.array(
    [
        [255, 224, 196],
        [241, 194, 160],
        [224, 172, 125],
        [198, 134, 90],
        [160, 100, 60],
        [120, 75, 45],
        [85, 55, 38],
    ],
    dtype=np.float32,
)
_HAIR_PALETTE = np.array(
    [
        [20, 15, 12],
        [60, 40, 25],
        [110, 75, 40],
        [190, 150, 90],
        [150, 60, 30],
        [150, 150, 150],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True, slots=True)
class Mouth:
    """Mouth geometry in pixels; `curvature` > 0 lifts the corners above the centre (a smile)."""

    kind: str  # "curve" | "teeth" | "open"
    center: tuple[float, float]
    half_width: float
    thickness: float
    curvature: float  # centre drop relative to the corners, in pixels
    opening: float  # gap between the lips for "teeth" and "open", in pixels
    lip_color: tuple[int, int, int]
    fold_color: tuple[int, int, int] | None  # smile lines beside the mouth, when drawn


@dataclass(frozen=True, slots=True)
class Still:
    """One still image: the drawn face plus what its renders need to stay face-relative.

    The canvas is larger than the output so that renders can shift and zoom by cropping it,
    which is several times cheaper than a warp per render and never shows a border.
    """

    image: np.ndarray  # (C, C, 3) uint8 RGB canvas, C = _CANVAS_SCALE * output size
    output_size: int
    face_center: tuple[float, float]  # canvas pixels
    face_half_width: float
    eye_y: float
    eye_dx: float
    skin: tuple[int, int, int]


# --------------------------------------------------------------------------------------------
# The still image


def draw_still(rng: Draws, size: int, smiling: bool) -> Still:
    canvas = int(round(size * _CANVAS_SCALE))
    margin = (canvas - size) / 2
    img = _draw_background(rng, canvas)
    skin = _sample_skin(rng)
    hair = _HAIR_PALETTE[rng.integers(len(_HAIR_PALETTE))] * rng.uniform(0.8, 1.15)

    # Head crops from a detector are roughly centred and scaled alike: jitter stays small.
    cx = margin + size * (0.5 + rng.uniform(-0.03, 0.03))
    cy = margin + size * (0.47 + rng.uniform(-0.03, 0.03))
    half_w = size * rng.uniform(0.26, 0.31)
    half_h = half_w * rng.uniform(1.2, 1.3)

    _draw_body(img, rng, cx, cy, half_w, half_h, skin)
    long_hair = rng.random() < 0.35
    if long_hair:
        ellipse(img, (cx, cy), (half_w * 1.25, half_h * 1.1), color_tuple(hair))
    for side in (-1, 1):  # ears
        ellipse(
            img, (cx + side * half_w * 0.97, cy), (half_w * 0.14, half_h * 0.2), color_tuple(skin)
        )
    ellipse(img, (cx, cy), (half_w, half_h), color_tuple(skin))
    if rng.random() > 0.1:  # some heads are bald
        _draw_hair_cap(img, rng, cx, cy, half_w, half_h, hair)

    eye_y = cy - half_h * rng.uniform(0.02, 0.18)
    eye_dx = half_w * rng.uniform(0.36, 0.48)
    squint = smiling and rng.random() < 0.5  # smiling eyes narrow (a Duchenne cue, not always)
    _draw_eyes(img, rng, cx, eye_y, eye_dx, half_w, squint)
    _draw_eyebrows(img, rng, cx, eye_y, eye_dx, half_w, hair)
    _draw_nose(img, rng, cx, eye_y, cy, half_w, half_h, skin)
    _draw_mouth(img, _sample_mouth(rng, smiling, cx, cy, half_w, half_h, skin))
    _apply_lighting(img, rng)
    img = _tilt(img, (cx, cy), rng.uniform(-6, 6))
    return Still(img, size, (cx, cy), half_w, eye_y, eye_dx, color_tuple(skin))


def _tilt(img: np.ndarray, center: tuple[float, float], degrees: float) -> np.ndarray:
    """Roll the head about its centre; done once per still, so renders share the pose."""
    matrix = cv2.getRotationMatrix2D(center, degrees, 1.0)
    side = img.shape[0]
    return cv2.warpAffine(
        img, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def _draw_background(rng: Draws, size: int) -> np.ndarray:
    corners = rng.uniform(20, 235, size=(2, 2, 3))
    img = smooth_field(corners, size).astype(np.uint8)
    # A few soft blobs stand in for clutter behind the head.
    for _ in range(int(rng.integers(0, 4))):
        center = rng.uniform(0, size, size=2)
        axes = rng.uniform(0.1, 0.4, size=2) * size
        ellipse(img, center, axes, color_tuple(random_color(rng)), angle=rng.uniform(0, 180))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (5, 5), 0)
    return img


def _sample_skin(rng: Draws) -> np.ndarray:
    position = rng.uniform(0, len(_SKIN_PALETTE) - 1)
    low = int(position)
    high = min(low + 1, len(_SKIN_PALETTE) - 1)
    frac = position - low
    tone = _SKIN_PALETTE[low] * (1 - frac) + _SKIN_PALETTE[high] * frac
    return tone + rng.uniform(-8, 8, size=3)


def _draw_body(img, rng, cx, cy, half_w, half_h, skin) -> None:
    size = img.shape[0]
    neck_top, neck_bottom = cy + half_h * 0.6, size * 1.05
    neck = np.array(
        [
            [cx - half_w * 0.45, neck_top],
            [cx + half_w * 0.45, neck_top],
            [cx + half_w * 0.5, neck_bottom],
            [cx - half_w * 0.5, neck_bottom],
        ]
    )
    fill(img, neck, color_tuple(skin * 0.85))
    shirt = random_color(rng)
    ellipse(img, (cx, cy + half_h * 2.1), (half_w * 2.2, half_h * 0.9), color_tuple(shirt))


def _draw_hair_cap(img, rng, cx, cy, half_w, half_h, hair) -> None:
    # Upper half-ellipse over the forehead: its height sets the hairline.
    hairline = cy - half_h * rng.uniform(0.35, 0.6)
    crown = cy - half_h * rng.uniform(1.03, 1.12)
    ellipse(
        img,
        (cx, hairline),
        (half_w * 1.06, hairline - crown),
        color_tuple(hair),
        start=180,
        end=360,
    )


def _draw_eyes(img, rng, cx, eye_y, eye_dx, half_w, squint) -> None:
    eye_w = half_w * rng.uniform(0.13, 0.19)
    eye_h = eye_w * (rng.uniform(0.3, 0.45) if squint else rng.uniform(0.5, 0.75))
    iris = color_tuple(rng.uniform(15, 110, size=3))
    gaze = rng.uniform(-0.3, 0.3) * eye_w
    for side in (-1, 1):
        ex = cx + side * eye_dx
        ellipse(img, (ex, eye_y), (eye_w, eye_h), (240, 240, 235))
        ellipse(img, (ex + gaze, eye_y), (eye_h * 0.9, eye_h * 0.9), iris)
        ellipse(img, (ex + gaze, eye_y), (eye_h * 0.4, eye_h * 0.4), (10, 10, 10))
    if rng.random() < 0.15:  # glasses
        frame = color_tuple(rng.uniform(0, 80, size=3))
        for side in (-1, 1):
            ellipse(
                img, (cx + side * eye_dx, eye_y), (eye_w * 1.6, eye_w * 1.2), frame, thickness=1
            )
        bridge = np.array([[cx - eye_dx + eye_w * 1.6, eye_y], [cx + eye_dx - eye_w * 1.6, eye_y]])
        polyline(img, bridge, frame, 1)


def _draw_eyebrows(img, rng, cx, eye_y, eye_dx, half_w, hair) -> None:
    brow_y = eye_y - half_w * rng.uniform(0.2, 0.32)
    brow_w = half_w * rng.uniform(0.18, 0.28)
    slant = half_w * rng.uniform(-0.06, 0.08)  # > 0 raises the outer end
    thickness = max(1.0, half_w * rng.uniform(0.05, 0.11))
    color = color_tuple(hair * 0.8)
    for side in (-1, 1):
        bx = cx + side * eye_dx
        brow = np.array(
            [[bx - side * brow_w, brow_y + slant], [bx + side * brow_w, brow_y - slant]]
        )
        polyline(img, brow, color, thickness)


def _draw_nose(img, rng, cx, eye_y, cy, half_w, half_h, skin) -> None:
    tip_y = cy + half_h * rng.uniform(0.15, 0.3)
    shade = color_tuple(skin * rng.uniform(0.7, 0.85))
    ridge = np.array([[cx, eye_y + half_w * 0.1], [cx + half_w * 0.04, tip_y]])
    polyline(img, ridge, shade, 1)
    ellipse(img, (cx, tip_y), (half_w * 0.14, half_w * 0.06), shade)


def _sample_mouth(rng, smiling, cx, cy, half_w, half_h, skin) -> Mouth:
    # Smiles stretch the mouth sideways; the ranges overlap so width alone does not decide.
    half_width = half_w * (rng.uniform(0.36, 0.55) if smiling else rng.uniform(0.26, 0.45))
    thickness = max(1.0, half_w * rng.uniform(0.05, 0.11))
    center = (cx + rng.uniform(-0.04, 0.04) * half_w, cy + half_h * rng.uniform(0.45, 0.53))
    lip = skin * np.array([0.75, 0.5, 0.5]) + np.array([40, 0, 0])
    if smiling:
        # 0.15 of the half-width is a barely visible lift; 0.6 a broad grin.
        curvature = half_width * rng.uniform(0.15, 0.6)
        kind = "teeth" if rng.random() < 0.7 else "curve"
        opening = half_width * rng.uniform(0.3, 0.6)
        # Smile lines: the cheeks lift and fold beside the mouth (not in every smile).
        fold = color_tuple(skin * 0.72) if rng.random() < 0.6 else None
    else:
        kind, curvature, opening = _sample_neutral_mouth(rng, half_width)
        fold = None
    return Mouth(kind, center, half_width, thickness, curvature, opening, color_tuple(lip), fold)


def _sample_neutral_mouth(rng, half_width) -> tuple[str, float, float]:
    choice = rng.random()
    if choice < 0.5:  # neutral line with a hint of curve either way
        return "curve", half_width * rng.uniform(-0.1, 0.08), 0.0
    if choice < 0.7:  # frown
        return "curve", -half_width * rng.uniform(0.12, 0.4), 0.0
    if choice < 0.9:  # open "O" (surprise, speech)
        return "open", 0.0, half_width * rng.uniform(0.5, 1.1)
    # Talking: flat mouth showing teeth, so teeth alone do not mean a smile.
    return "teeth", half_width * rng.uniform(-0.08, 0.05), half_width * rng.uniform(0.15, 0.35)


_CURVE_X = np.linspace(-1.0, 1.0, 9)
_CURVE_BULGE = 1.0 - _CURVE_X**2


def _mouth_curve(mouth: Mouth, depth: float) -> np.ndarray:
    """Parabola through both corners whose centre sits `depth` pixels below them."""
    cx, cy = mouth.center
    return np.column_stack([cx + _CURVE_X * mouth.half_width, cy + depth * _CURVE_BULGE])


def _draw_mouth(img: np.ndarray, mouth: Mouth) -> None:
    if mouth.fold_color is not None:
        _draw_smile_lines(img, mouth)
    if mouth.kind == "open":
        axes = (mouth.half_width * 0.55, mouth.opening * 0.5)
        ellipse(img, mouth.center, axes, (60, 20, 25))
        ellipse(img, mouth.center, axes, mouth.lip_color, thickness=int(mouth.thickness))
        return
    if mouth.kind == "teeth":
        upper = _mouth_curve(mouth, mouth.curvature)
        lower = _mouth_curve(mouth, mouth.curvature + mouth.opening)
        fill(img, np.concatenate([upper, lower[::-1]]), (60, 20, 25))
        teeth_lower = _mouth_curve(mouth, mouth.curvature + mouth.opening * 0.65)
        fill(img, np.concatenate([upper, teeth_lower[::-1]]), (245, 245, 240))
        polyline(img, np.concatenate([upper, lower[::-1], upper[:1]]), mouth.lip_color, 1)
        return
    polyline(img, _mouth_curve(mouth, mouth.curvature), mouth.lip_color, mouth.thickness)


def _draw_smile_lines(img: np.ndarray, mouth: Mouth) -> None:
    cx, cy = mouth.center
    w = mouth.half_width
    for side in (-1, 1):
        fold = np.array(
            [
                [cx + side * w * 0.75, cy - w * 0.75],
                [cx + side * w * 1.25, cy - w * 0.1],
                [cx + side * w * 1.15, cy + w * 0.35],
            ]
        )
        polyline(img, fold, mouth.fold_color, 1)


def _apply_lighting(img: np.ndarray, rng: Draws) -> None:
    # A light from one side: gain falls off linearly across the face in a random direction.
    angle = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0.0, 0.35)
    dx, dy = strength * math.cos(angle), strength * math.sin(angle)
    corners = [[[1 - dx - dy] * 3, [1 + dx - dy] * 3], [[1 - dx + dy] * 3, [1 + dx + dy] * 3]]
    gain_field = smooth_field(np.array(corners), img.shape[0])
    cv2.multiply(img, gain_field, dst=img, dtype=cv2.CV_8U)
