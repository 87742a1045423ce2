"""Drawing a parsed wholebody34 frame: boxes by class, attributes, smiles, keypoints, bones.

The reference's look (`demo-wholebody.md` §5), with its oddities fixed: attributes show in the
labels (body "Adult(F)", head pose name, hand "L"/"R"); every head with a width gets a distance;
the face mosaic is applied first, on the clean frame, to every face (hidden or not, since
hiding a box must not reveal a face); dashed boxes keep the line width and short sides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import cv2
import numpy as np

from hsc_infer.demo.wholebody.bones import bones
from hsc_infer.demo.wholebody.classes import (
    BODY,
    BONE_COLOUR,
    CLASSES,
    FACE,
    GENDER_COLOURS,
    GENDER_LETTERS,
    GENERATION_NAMES,
    HAND,
    HANDEDNESS_LETTERS,
    HEAD,
    KEYPOINT_IDS,
    POSE_COLOURS,
    POSE_NAMES,
    RED,
    SMILING,
    UNKNOWN_POSE,
    WHITE,
)
from hsc_infer.demo.wholebody.parse import ParsedFrame, WholeBodyObject

KeypointMode = Literal["dot", "box", "both"]
KEYPOINT_MODES: tuple[KeypointMode, ...] = ("dot", "box", "both")
AVERAGE_HEAD_WIDTH_M = 0.16 + 0.10  # 16 cm plus the reference's margin
DASH_STEP_PX = 10
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_NEAR_BLACK = (10, 10, 10)

Box = tuple[int, int, int, int]


class SmileResult(Protocol):
    """What the demo knows of a head: `hsc_infer.demo.pipeline.HeadResult` fits."""

    prob: float
    label: str
    track_id: int | None


@dataclass
class DrawSettings:
    line_width: int = 2  # -bblw
    keypoint_mode: KeypointMode = "dot"  # -kdm; key K cycles
    draw_bones: bool = False  # -ebm; key B
    hidden_classes: frozenset[int] = frozenset()  # -drc
    face_mosaic: bool = False  # -efm
    show_distance: bool = True  # -dhd off; key M
    show_ids: bool = True  # -dti off; key T
    horizontal_fov: float = 90.0  # -chf
    # Attribute modes that shape the drawing (dashed when unknown): -dgm, -dhm, -dlr; G, P, H.
    styled: set[str] = field(default_factory=lambda: {"gender", "head_pose", "handedness"})


def draw_wholebody(
    canvas: np.ndarray,
    parsed: ParsedFrame,
    settings: DrawSettings,
    smiles: Mapping[Box, SmileResult] | None = None,
) -> np.ndarray:
    """Annotate `canvas` in place: mosaic, boxes and labels in list order, then bones."""
    smiles = smiles or {}
    if settings.face_mosaic:
        for face in (o for o in parsed.objects if o.class_id == FACE):
            mosaic(canvas, face.box)
    visible = [o for o in parsed.objects if o.class_id not in settings.hidden_classes]
    for obj in visible:
        if obj.class_id in KEYPOINT_IDS:
            draw_keypoint(canvas, obj, settings.keypoint_mode)
        else:
            _draw_object(canvas, obj, settings, smiles.get(obj.box))
    if settings.draw_bones:
        for start, end in bones(visible):
            cv2.line(canvas, start, end, BONE_COLOUR, 2)
    return canvas


def _draw_object(
    canvas: np.ndarray, obj: WholeBodyObject, settings: DrawSettings, smile: SmileResult | None
) -> None:
    colour, dashed = style_of(obj, settings, smile)
    if dashed:
        dashed_rectangle(canvas, obj.box, colour, max(2, settings.line_width))
    else:
        solid_rectangle(canvas, obj.box, colour, settings.line_width)
    text = label_of(obj, settings, smile)
    if text:
        x1, y1 = obj.box[0], obj.box[1]
        w = canvas.shape[1]
        origin = (w - 50 if x1 + 50 >= w else x1, 20 if y1 - 25 <= 0 else y1 - 10)
        outlined(canvas, text, origin, colour, 0.7, WHITE)
    if obj.class_id == HEAD:
        if settings.show_ids and smile is not None and smile.track_id:
            _draw_track_id(canvas, obj.box, smile.track_id, colour)
        if settings.show_distance and obj.width > 0:
            metres = head_distance_m(obj.width, canvas.shape[1], settings.horizontal_fov)
            baseline = max(obj.box[1] + 20, 20)
            outlined(canvas, f"{metres:.3f} m", (obj.box[0] + 5, baseline), _NEAR_BLACK, 0.7, WHITE)


def style_of(
    obj: WholeBodyObject, settings: DrawSettings, smile: SmileResult | None
) -> tuple[tuple[int, int, int], bool]:
    """(colour, dashed) of a non-keypoint box."""
    cls = obj.class_id
    if cls == BODY and "gender" in settings.styled:
        if obj.gender >= 0:
            return GENDER_COLOURS[obj.gender], False
        return RED, True
    if cls == HEAD:
        pose_known = obj.head_pose >= 0
        if "head_pose" in settings.styled:
            colour = POSE_COLOURS[obj.head_pose] if pose_known else UNKNOWN_POSE
            dashed = not pose_known
        else:
            colour, dashed = RED, False
        if smile is not None and smile.label:
            colour = SMILING
        return colour, dashed
    if cls == HAND and "handedness" in settings.styled:
        return CLASSES[HAND].colour, obj.handedness < 0
    return CLASSES[cls].colour, False


def label_of(obj: WholeBodyObject, settings: DrawSettings, smile: SmileResult | None) -> str:
    """Attributes, then the smile result for heads: "Adult(F)", "Left-Front !! Smiling !! 0.912"."""
    parts = []
    if obj.class_id == BODY:
        generation = GENERATION_NAMES[obj.generation] if obj.generation >= 0 else ""
        gender = f"({GENDER_LETTERS[obj.gender]})" if obj.gender >= 0 else ""
        parts.append(generation + gender)
    elif obj.class_id == HEAD:
        if obj.head_pose >= 0:
            parts.append(POSE_NAMES[obj.head_pose])
        if smile is not None:
            parts.append(f"!! Smiling !! {smile.prob:.3f}" if smile.label else f"{smile.prob:.3f}")
    elif obj.class_id == HAND and obj.handedness >= 0:
        parts.append(HANDEDNESS_LETTERS[obj.handedness])
    return " ".join(p for p in parts if p)


def draw_keypoint(canvas: np.ndarray, obj: WholeBodyObject, mode: KeypointMode) -> None:
    colour = CLASSES[obj.class_id].colour
    if mode in ("dot", "both"):
        cv2.circle(canvas, obj.centre, 4, WHITE, -1)
        cv2.circle(canvas, obj.centre, 3, colour, -1)
    if mode in ("box", "both"):
        x1, y1, x2, y2 = obj.box
        cv2.rectangle(canvas, (x1, y1), (x2, y2), WHITE, 2)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 1)


def solid_rectangle(canvas: np.ndarray, box: Box, colour, line_width: int) -> None:
    """A white rectangle of the line width under the colour one pixel thinner."""
    width = max(2, line_width)
    x1, y1, x2, y2 = box
    cv2.rectangle(canvas, (x1, y1), (x2, y2), WHITE, width)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, width - 1)


def dashed_rectangle(canvas: np.ndarray, box: Box, colour, thickness: int) -> None:
    """Dashes of about half of DASH_STEP_PX along each side; a side too short for one step
    is drawn whole."""
    x1, y1, x2, y2 = box
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        for start, end in _dashes((ax, ay), (bx, by)):
            cv2.line(canvas, start, end, colour, thickness)


def _dashes(a: tuple[int, int], b: tuple[int, int]) -> Iterable[tuple[tuple[int, int], ...]]:
    steps = int(math.dist(a, b) // DASH_STEP_PX)
    if steps == 0:
        yield a, b
        return
    for k in range(steps):
        t0, t1 = k / steps, (k + 0.5) / steps
        yield (
            (int(a[0] + (b[0] - a[0]) * t0), int(a[1] + (b[1] - a[1]) * t0)),
            (int(a[0] + (b[0] - a[0]) * t1), int(a[1] + (b[1] - a[1]) * t1)),
        )


def mosaic(canvas: np.ndarray, box: Sequence[int], cells: int = 3) -> None:
    """Shrink the box's region to cells x cells and stretch it back (a smooth blur); a box
    with no area inside the frame is left alone."""
    h, w = canvas.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(box[2])), min(h, int(box[3]))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return
    small = cv2.resize(canvas[y1:y2, x1:x2], (cells, cells), interpolation=cv2.INTER_LINEAR)
    canvas[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)


def head_distance_m(head_width_px: int, image_width: int, horizontal_fov_deg: float) -> float:
    """Pinhole up to 90 degrees, equidistant fisheye above; from the head box's width."""
    fov = math.radians(horizontal_fov_deg)
    focal = image_width / fov if horizontal_fov_deg > 90 else image_width / (2 * math.tan(fov / 2))
    return AVERAGE_HEAD_WIDTH_M * focal / max(1, head_width_px)


def outlined(canvas: np.ndarray, text: str, origin, colour, scale: float, outline) -> None:
    cv2.putText(canvas, text, origin, _FONT, scale, outline, 2, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


def _draw_track_id(canvas: np.ndarray, box: Box, track_id: int, colour) -> None:
    x1, y1, _, y2 = box
    baseline = y1 - 30 if y1 - 30 >= 20 else min(y2 + 25, canvas.shape[0] - 10)
    outlined(canvas, f"ID: {track_id}", (max(x1 - 5, 0), baseline), colour, 0.6, _NEAR_BLACK)
