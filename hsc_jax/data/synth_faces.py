"""Drawing one synthetic head: face parameters, OpenCV primitives and render augmentations.

`draw_still` draws a still image (skin, head geometry, hair, eyes, mouth, lighting, background,
tilt) once; `augment` renders it again with small shifts, zooms, flips, photometric changes and
now and then blur, an occluder or grey. `synth.py` assembles these renders into a dataset.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

# cv2 drawing takes fixed-point coordinates with this many fractional bits: sub-pixel geometry
# keeps small faces smooth without drawing at a higher resolution and downscaling.
_SHIFT = 4
_SCALE = 1 << _SHIFT
# Renders take their sensor noise from a fixed bank at a random offset: drawing fresh Gaussian
# noise per image was the largest cost of augmentation.
_NOISE_BANK_SEED = 20240601
# Canvas side relative to the output: room for the tilt, shifts and zooms below without borders.
_CANVAS_SCALE = 1.25
_MAX_SHIFT = 0.03
_ZOOM_RANGE = (0.95, 1.05)

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


class Draws:
    """A random generator that serves scalar uniforms from pre-drawn blocks.

    A face takes dozens of scalar draws; one numpy call per scalar costs more than the drawing
    itself at these image sizes. Deterministic like the generator it wraps.
    """

    __slots__ = ("_rng", "_block", "_next")

    def __init__(self, rng: np.random.Generator, block_size: int = 128):
        self._rng = rng
        self._block = rng.random(block_size).tolist()
        self._next = 0

    def random(self) -> float:
        if self._next == len(self._block):
            self._block = self._rng.random(len(self._block)).tolist()
            self._next = 0
        self._next += 1
        return self._block[self._next - 1]

    def uniform(
        self, low: float = 0.0, high: float = 1.0, size: int | tuple[int, ...] | None = None
    ):
        if size is not None:
            return low + (high - low) * self._rng.random(size)
        return low + (high - low) * self.random()

    def integers(self, low: int, high: int | None = None) -> int:
        if high is None:
            low, high = 0, low
        return min(high - 1, low + int((high - low) * self.random()))

    def choice(self, options):
        return options[self.integers(len(options))]


# --------------------------------------------------------------------------------------------
# Drawing helpers (all coordinates in float pixels)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _SCALE)), int(round(y * _SCALE))


def _ellipse(img, center, axes, color, angle=0.0, start=0, end=360, thickness=-1) -> None:
    axes_fixed = (max(1, int(axes[0] * _SCALE)), max(1, int(axes[1] * _SCALE)))
    cv2.ellipse(
        img, _pt(*center), axes_fixed, angle, start, end, color, thickness, cv2.LINE_AA, _SHIFT
    )


def _polyline(img, points: np.ndarray, color, thickness: float) -> None:
    fixed = np.round(points * _SCALE).astype(np.int32)
    cv2.polylines(img, [fixed], False, color, max(1, int(round(thickness))), cv2.LINE_AA, _SHIFT)


def _fill(img, points: np.ndarray, color) -> None:
    fixed = np.round(points * _SCALE).astype(np.int32)
    cv2.fillPoly(img, [fixed], color, cv2.LINE_AA, _SHIFT)


def _color(rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    return min(255, max(0, int(r))), min(255, max(0, int(g))), min(255, max(0, int(b)))


def _random_color(rng: Draws) -> np.ndarray:
    return rng.uniform(20, 235, size=3)


def _smooth_field(corners: np.ndarray, size: int) -> np.ndarray:
    """Bilinear blend of a (2, 2, C) grid of values over a (size, size, C) float32 field."""
    return cv2.resize(corners.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    rng = np.random.default_rng(_NOISE_BANK_SEED)
    return rng.standard_normal((4 * size, 4 * size, 3), dtype=np.float32)


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
        _ellipse(img, (cx, cy), (half_w * 1.25, half_h * 1.1), _color(hair))
    for side in (-1, 1):  # ears
        _ellipse(img, (cx + side * half_w * 0.97, cy), (half_w * 0.14, half_h * 0.2), _color(skin))
    _ellipse(img, (cx, cy), (half_w, half_h), _color(skin))
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
    return Still(img, size, (cx, cy), half_w, eye_y, eye_dx, _color(skin))


def _tilt(img: np.ndarray, center: tuple[float, float], degrees: float) -> np.ndarray:
    """Roll the head about its centre; done once per still, so renders share the pose."""
    matrix = cv2.getRotationMatrix2D(center, degrees, 1.0)
    side = img.shape[0]
    return cv2.warpAffine(
        img, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def _draw_background(rng: Draws, size: int) -> np.ndarray:
    corners = rng.uniform(20, 235, size=(2, 2, 3))
    img = _smooth_field(corners, size).astype(np.uint8)
    # A few soft blobs stand in for clutter behind the head.
    for _ in range(int(rng.integers(0, 4))):
        center = rng.uniform(0, size, size=2)
        axes = rng.uniform(0.1, 0.4, size=2) * size
        _ellipse(img, center, axes, _color(_random_color(rng)), angle=rng.uniform(0, 180))
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
    _fill(img, neck, _color(skin * 0.85))
    shirt = _random_color(rng)
    _ellipse(img, (cx, cy + half_h * 2.1), (half_w * 2.2, half_h * 0.9), _color(shirt))


def _draw_hair_cap(img, rng, cx, cy, half_w, half_h, hair) -> None:
    # Upper half-ellipse over the forehead: its height sets the hairline.
    hairline = cy - half_h * rng.uniform(0.35, 0.6)
    crown = cy - half_h * rng.uniform(1.03, 1.12)
    _ellipse(
        img, (cx, hairline), (half_w * 1.06, hairline - crown), _color(hair), start=180, end=360
    )


def _draw_eyes(img, rng, cx, eye_y, eye_dx, half_w, squint) -> None:
    eye_w = half_w * rng.uniform(0.13, 0.19)
    eye_h = eye_w * (rng.uniform(0.3, 0.45) if squint else rng.uniform(0.5, 0.75))
    iris = _color(rng.uniform(15, 110, size=3))
    gaze = rng.uniform(-0.3, 0.3) * eye_w
    for side in (-1, 1):
        ex = cx + side * eye_dx
        _ellipse(img, (ex, eye_y), (eye_w, eye_h), (240, 240, 235))
        _ellipse(img, (ex + gaze, eye_y), (eye_h * 0.9, eye_h * 0.9), iris)
        _ellipse(img, (ex + gaze, eye_y), (eye_h * 0.4, eye_h * 0.4), (10, 10, 10))
    if rng.random() < 0.15:  # glasses
        frame = _color(rng.uniform(0, 80, size=3))
        for side in (-1, 1):
            _ellipse(
                img, (cx + side * eye_dx, eye_y), (eye_w * 1.6, eye_w * 1.2), frame, thickness=1
            )
        bridge = np.array([[cx - eye_dx + eye_w * 1.6, eye_y], [cx + eye_dx - eye_w * 1.6, eye_y]])
        _polyline(img, bridge, frame, 1)


def _draw_eyebrows(img, rng, cx, eye_y, eye_dx, half_w, hair) -> None:
    brow_y = eye_y - half_w * rng.uniform(0.2, 0.32)
    brow_w = half_w * rng.uniform(0.18, 0.28)
    slant = half_w * rng.uniform(-0.06, 0.08)  # > 0 raises the outer end
    thickness = max(1.0, half_w * rng.uniform(0.05, 0.11))
    color = _color(hair * 0.8)
    for side in (-1, 1):
        bx = cx + side * eye_dx
        brow = np.array(
            [[bx - side * brow_w, brow_y + slant], [bx + side * brow_w, brow_y - slant]]
        )
        _polyline(img, brow, color, thickness)


def _draw_nose(img, rng, cx, eye_y, cy, half_w, half_h, skin) -> None:
    tip_y = cy + half_h * rng.uniform(0.15, 0.3)
    shade = _color(skin * rng.uniform(0.7, 0.85))
    ridge = np.array([[cx, eye_y + half_w * 0.1], [cx + half_w * 0.04, tip_y]])
    _polyline(img, ridge, shade, 1)
    _ellipse(img, (cx, tip_y), (half_w * 0.14, half_w * 0.06), shade)


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
        fold = _color(skin * 0.72) if rng.random() < 0.6 else None
    else:
        kind, curvature, opening = _sample_neutral_mouth(rng, half_width)
        fold = None
    return Mouth(kind, center, half_width, thickness, curvature, opening, _color(lip), fold)


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
        _ellipse(img, mouth.center, axes, (60, 20, 25))
        _ellipse(img, mouth.center, axes, mouth.lip_color, thickness=int(mouth.thickness))
        return
    if mouth.kind == "teeth":
        upper = _mouth_curve(mouth, mouth.curvature)
        lower = _mouth_curve(mouth, mouth.curvature + mouth.opening)
        _fill(img, np.concatenate([upper, lower[::-1]]), (60, 20, 25))
        teeth_lower = _mouth_curve(mouth, mouth.curvature + mouth.opening * 0.65)
        _fill(img, np.concatenate([upper, teeth_lower[::-1]]), (245, 245, 240))
        _polyline(img, np.concatenate([upper, lower[::-1], upper[:1]]), mouth.lip_color, 1)
        return
    _polyline(img, _mouth_curve(mouth, mouth.curvature), mouth.lip_color, mouth.thickness)


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
        _polyline(img, fold, mouth.fold_color, 1)


def _apply_lighting(img: np.ndarray, rng: Draws) -> None:
    # A light from one side: gain falls off linearly across the face in a random direction.
    angle = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0.0, 0.35)
    dx, dy = strength * math.cos(angle), strength * math.sin(angle)
    corners = [[[1 - dx - dy] * 3, [1 + dx - dy] * 3], [[1 - dx + dy] * 3, [1 + dx + dy] * 3]]
    gain_field = _smooth_field(np.array(corners), img.shape[0])
    cv2.multiply(img, gain_field, dst=img, dtype=cv2.CV_8U)


# --------------------------------------------------------------------------------------------
# Renders of a still


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
            _ellipse(img, (cx + side * still.eye_dx, still.eye_y), lens, (15, 15, 20))
    elif kind == 1:  # hand or object entering from one side, up to one mouth corner
        side = rng.choice([-1, 1])
        center = (cx + side * half_w * rng.uniform(1.0, 1.3), cy + half_w * rng.uniform(0, 1.2))
        color = still.skin if rng.random() < 0.5 else _color(_random_color(rng))
        _ellipse(img, center, (half_w * 0.55, half_w * 0.35), color, angle=rng.uniform(0, 180))
    else:  # strand of hair or a cap brim across the forehead
        y = still.eye_y - half_w * rng.uniform(0.35, 0.6)
        band = np.array([[cx - half_w * 1.2, y], [cx + half_w * 1.2, y + rng.uniform(-3, 3)]])
        _polyline(img, band, _color(_random_color(rng)), half_w * rng.uniform(0.1, 0.25))
    return img
