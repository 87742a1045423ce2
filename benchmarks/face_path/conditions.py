"""How a pasted face is altered in the v2 scenes (`scenes`): turned, rolled, partly covered or
unevenly lit, one condition per face.

A face is first a `FaceLayer`: the 48x48 crop enlarged to its side, tinted with a skin tone,
with v1's blended edge (`frames.paste_face`) as an alpha mask. `yaw`, `roll` and `light`
change the layer; `occlude` draws over the frame after the face is blended in, since an
occluder is something in front of the face, not part of it. The true box is always the face's
square as pasted: for a rolled face, the unrotated square on the same centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks.face_path.frames import paste_face

CONDITIONS = ("frontal", "yawed", "rolled", "occluded", "lit")
CONDITION_SHARES = (0.4, 0.15, 0.15, 0.15, 0.15)
YAW_DEGREES = (20.0, 40.0)  # a three-quarter view
ROLL_DEGREES = (10.0, 25.0)  # below 10 degrees a roll looks like a frontal face
OCCLUDED_SHARE = (0.15, 0.35)  # of the face's square
# The FERPlus mean face has its eye line at 0.38 of the crop's height and its brows at 0.3: a band
# from the top stops at 0.25 so that it never covers both eyes (a cap's brim, a fringe). A band
# from the left or right covers one eye at most (eyes at 0.3 and 0.7 of the width).
TOP_OCCLUDED_SHARE = (0.15, 0.25)
OCCLUDER_SIDES = ("top", "bottom", "left", "right")
OCCLUDERS = ("background", "dark", "skin")  # a patch of the scene, a dark bar, a hand-like bar
LIGHT_RATIO = (0.35, 0.7)  # darker side / brighter side of a gradient across the face
DIM_GAIN, BRIGHT_GAIN = (0.45, 0.75), (1.3, 1.7)


@dataclass(frozen=True)
class Condition:
    """One face's condition, every random choice drawn up front (`draw_condition`), so that
    rendering is a plain function of the face, its box and this."""

    name: str  # one of CONDITIONS
    degrees: float = 0.0  # yawed: + narrows the right side, - the left; rolled: counter-clockwise
    occluder_side: str = ""  # occluded: one of OCCLUDER_SIDES
    occluded_share: float = 0.0  # occluded: the band's depth over the face's side
    occluder: str = ""  # occluded: one of OCCLUDERS
    occluder_level: float = 0.0  # occluded, dark or skin: the bar's brightness, 0-255
    source: tuple[float, float] = (0.0, 0.0)  # occluded, background: where in the scene, 0-1
    light_ratio: float = 1.0  # lit: darker side / brighter side of the gradient (1: none)
    light_angle: float = 0.0  # lit: the direction light comes from, degrees
    gain: float = 1.0  # lit: an overall gain on top of the gradient


def draw_condition(rng: np.random.Generator) -> Condition:
    """A random condition with CONDITION_SHARES' odds and its parameters."""
    name = CONDITIONS[int(rng.choice(len(CONDITIONS), p=CONDITION_SHARES))]
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if name == "yawed":
        return Condition(name, degrees=sign * rng.uniform(*YAW_DEGREES))
    if name == "rolled":
        return Condition(name, degrees=sign * rng.uniform(*ROLL_DEGREES))
    if name == "occluded":
        side = OCCLUDER_SIDES[int(rng.integers(len(OCCLUDER_SIDES)))]
        share = rng.uniform(*(TOP_OCCLUDED_SHARE if side == "top" else OCCLUDED_SHARE))
        occluder = OCCLUDERS[int(rng.integers(len(OCCLUDERS)))]
        level = rng.uniform(15, 60) if occluder == "dark" else rng.uniform(150, 230)
        source = (float(rng.random()), float(rng.random()))
        return Condition(name, occluder_side=side, occluded_share=share, occluder=occluder,
                         occluder_level=level, source=source)  # fmt: skip
    if name == "lit":
        # A gradient alone, a gain alone, or both, equally often.
        mode = int(rng.integers(3))
        ratio = rng.uniform(*LIGHT_RATIO) if mode != 1 else 1.0
        gain = rng.uniform(*(DIM_GAIN if rng.random() < 0.5 else BRIGHT_GAIN)) if mode else 1.0
        return Condition(name, light_ratio=ratio, light_angle=rng.uniform(0, 360), gain=gain)
    return Condition(name)


@dataclass(frozen=True)
class FaceLayer:
    """A face ready to blend: its centre is the true box's centre."""

    colour: np.ndarray  # (S, S, 3) float32 BGR
    alpha: np.ndarray  # (S, S, 1) float32, 0-1


def face_layer(face: np.ndarray, side: int, tone: np.ndarray) -> FaceLayer:
    """The crop enlarged to `side`, tinted with `tone`, its outer 5 % fading into the scene: the
    pixels and edge `frames.paste_face` lays down (within a rounding step)."""
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    ramp = np.clip(np.minimum(np.arange(side), np.arange(side)[::-1]) / (0.05 * side), 0, 1)
    alpha = np.minimum.outer(ramp, ramp)[..., None].astype(np.float32)
    return FaceLayer(big[..., None] * tone, alpha)


def _warp(layer: FaceLayer, matrix: np.ndarray, size: int, perspective: bool) -> FaceLayer:
    warp = cv2.warpPerspective if perspective else cv2.warpAffine
    colour = warp(layer.colour, matrix, (size, size), flags=cv2.INTER_LINEAR)
    alpha = warp(layer.alpha[..., 0], matrix, (size, size), flags=cv2.INTER_LINEAR)
    return FaceLayer(colour, alpha[..., None])


def yaw(layer: FaceLayer, degrees: float) -> FaceLayer:
    """A head turned by `degrees` (three-quarter view), as a perspective warp inside the same
    square: the face narrows to cos(yaw) of its width and its far side shrinks in height (to
    0.83 of the near side at 20 degrees, 0.68 at 40), so the far half is squeezed more."""
    side = layer.colour.shape[0]
    turn = math.radians(abs(degrees))
    width, far = math.cos(turn), 1.0 - 0.5 * math.sin(turn)
    left, right = (1 - width) / 2 * side, (1 + width) / 2 * side
    top, bottom = (1 - far) / 2 * side, (1 + far) / 2 * side
    square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    if degrees >= 0:  # the right side is the far one
        target = [[left, 0], [right, top], [right, bottom], [left, side]]
    else:
        target = [[left, top], [right, 0], [right, side], [left, bottom]]
    matrix = cv2.getPerspectiveTransform(square, np.float32(target))
    return _warp(layer, matrix, side, perspective=True)


def roll_footprint(side: int, degrees: float) -> int:
    """The side of the square a face of `side` rotated by `degrees` needs, with the same parity
    as `side` so that both squares share a whole-pixel centre."""
    turn = math.radians(abs(degrees))
    need = math.ceil(side * (math.cos(turn) + math.sin(turn)))
    return need + (need - side) % 2


def roll(layer: FaceLayer, degrees: float) -> FaceLayer:
    """The face rotated in the image plane on a canvas of `roll_footprint` around it."""
    side = layer.colour.shape[0]
    size = roll_footprint(side, degrees)
    pad = (size - side) // 2
    canvas = FaceLayer(
        cv2.copyMakeBorder(layer.colour, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0),
        cv2.copyMakeBorder(layer.alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)[
            ..., None
        ],
    )
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), degrees, 1.0)
    return _warp(canvas, matrix, size, perspective=False)


def light(layer: FaceLayer, ratio: float, angle: float, gain: float) -> FaceLayer:
    """A linear light gradient across the face (the side the light comes from at full
    brightness, the opposite side at `ratio` of it), times `gain`."""
    side = layer.colour.shape[0]
    direction = math.radians(angle)
    xs = np.arange(side, dtype=np.float32) - (side - 1) / 2
    along = np.add.outer(xs * math.sin(direction), xs * math.cos(direction))  # (y, x)
    reach = max(float(np.abs(along).max()), 1.0)
    shade = ratio + (1 - ratio) * (along / reach + 1) / 2
    return FaceLayer(layer.colour * (gain * shade)[..., None], layer.alpha)


def blend(frame: np.ndarray, layer: FaceLayer, x: int, y: int) -> None:
    """Blend `layer` into `frame` (in place) with its top-left corner at (x, y)."""
    size = layer.colour.shape[0]
    region = frame[y : y + size, x : x + size].astype(np.float32)
    mixed = layer.alpha * layer.colour + (1 - layer.alpha) * region
    frame[y : y + size, x : x + size] = np.clip(mixed, 0, 255).astype(np.uint8)


def occluder_band(box: tuple[int, int, int, int], condition: Condition) -> tuple[int, ...]:
    """The part of the face's box an occluded face has covered: (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    depth = max(1, round(condition.occluded_share * (x2 - x1)))
    return {
        "top": (x1, y1, x2, y1 + depth),
        "bottom": (x1, y2 - depth, x2, y2),
        "left": (x1, y1, x1 + depth, y2),
        "right": (x2 - depth, y1, x2, y2),
    }[condition.occluder_side]


def occlude(
    frame: np.ndarray,
    scene: np.ndarray,
    box: tuple[int, int, int, int],
    condition: Condition,
    tone: np.ndarray,
) -> None:
    """Cover a band of the face (in place) with a patch of `scene` (the frame before any face
    went in) or a flat bar, dark or skin-coloured, with a hard edge as an object in front has."""
    bx1, by1, bx2, by2 = occluder_band(box, condition)
    if condition.occluder == "background":
        h, w = scene.shape[:2]
        sx = int(condition.source[0] * (w - (bx2 - bx1)))
        sy = int(condition.source[1] * (h - (by2 - by1)))
        frame[by1:by2, bx1:bx2] = scene[sy : sy + by2 - by1, sx : sx + bx2 - bx1]
    else:
        colour = condition.occluder_level * (tone if condition.occluder == "skin" else 1.0)
        frame[by1:by2, bx1:bx2] = np.clip(np.broadcast_to(colour, 3), 0, 255).astype(np.uint8)


def footprint(side: int, condition: Condition) -> int:
    """The side of the square a face takes in the frame: its own, or more when it is rolled."""
    return roll_footprint(side, condition.degrees) if condition.name == "rolled" else side


def paste_with_condition(
    frame: np.ndarray,
    scene: np.ndarray,
    face: np.ndarray,
    box: tuple[int, int, int, int],
    tone: np.ndarray,
    condition: Condition,
) -> None:
    """Paste `face` (grey or BGR crop) at the square `box` of `frame` (in place) under
    `condition`; a rolled face's corners reach outside `box`, up to its `footprint`."""
    if condition.name == "frontal":
        paste_face(frame, face, box, tone)  # v1's face, to the bit
        return
    x1, y1, x2, _ = box
    side = x2 - x1
    layer = face_layer(face, side, tone)
    if condition.name == "yawed":
        layer = yaw(layer, condition.degrees)
    elif condition.name == "rolled":
        layer = roll(layer, condition.degrees)
    elif condition.name == "lit":
        layer = light(layer, condition.light_ratio, condition.light_angle, condition.gain)
    pad = (layer.colour.shape[0] - side) // 2
    blend(frame, layer, x1 - pad, y1 - pad)
    if condition.name == "occluded":
        occlude(frame, scene, box, condition, tone)
