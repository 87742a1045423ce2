"""Turn a detection into the crop the classifier was trained on (its contract's crop kind).

A frontal face box (the Haar cascade's: brows to chin, cheek to cheek) and a head box (DEIMv2's:
hair to chin, ear to ear) differ in size and centre. Measured on typical frontal heads, the head
box is about 1.6x the face box on each side and its centre sits about 0.1 face heights higher
(hair adds more above than the chin below). The two conversions below are exact inverses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hsc_infer.contract import ModelContract
from hsc_infer.detectors.base import Box, Detection, clamp_box

FACE_TO_HEAD_SCALE = 1.6  # head side / face side, both axes
FACE_TO_HEAD_SHIFT_UP = 0.1  # head centre above face centre, in face heights


def _centre_size(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1


def _from_centre(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def face_to_head(box: Sequence[float]) -> tuple[float, float, float, float]:
    cx, cy, w, h = _centre_size(box)
    return _from_centre(
        cx, cy - FACE_TO_HEAD_SHIFT_UP * h, w * FACE_TO_HEAD_SCALE, h * FACE_TO_HEAD_SCALE
    )


def head_to_face(box: Sequence[float]) -> tuple[float, float, float, float]:
    cx, cy, w, h = _centre_size(box)
    face_w, face_h = w / FACE_TO_HEAD_SCALE, h / FACE_TO_HEAD_SCALE
    return _from_centre(cx, cy + FACE_TO_HEAD_SHIFT_UP * face_h, face_w, face_h)


def add_margin(box: Sequence[float], margin: float) -> tuple[float, float, float, float]:
    """Grow each side by `margin` times the box's width (left/right) or height (top/bottom)."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    return x1 - dx, y1 - dy, x2 + dx, y2 + dy


def crop_box(detection: Detection, contract: ModelContract, frame_shape: Sequence[int]) -> Box:
    """The pixel box to crop for `contract`: converted to its crop kind, margin added, clamped."""
    box: Sequence[float] = detection.box
    if detection.kind == "face" and contract.crop_kind == "head":
        box = face_to_head(box)
    elif detection.kind == "head" and contract.crop_kind == "face":
        box = head_to_face(box)
    if contract.crop_margin > 0:
        box = add_margin(box, contract.crop_margin)
    return clamp_box(box, frame_shape)


__all__ = ["add_margin", "clamp_box", "crop", "crop_box", "face_to_head", "head_to_face"]


def is_empty(box: Box) -> bool:
    return box[2] <= box[0] or box[3] <= box[1]


def crop(frame: np.ndarray, box: Box) -> np.ndarray:
    x1, y1, x2, y2 = box
    return frame[y1:y2, x1:x2]
