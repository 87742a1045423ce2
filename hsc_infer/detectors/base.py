"""The detector interface: a BGR frame in, head or face boxes in pixels out.

Box conventions (what `kind` promises, so that `crops.py` can map any detector's box to the crop
a model was trained on):

* `"face"`: a square-ish frontal face box from the brows to the chin and cheek to cheek, the box
  of OpenCV's Haar cascade and of the FER2013 crops. A detector whose native box differs (YuNet's
  runs from the hairline to below the chin) converts to this one before returning.
* `"head"`: hair to chin, ear to ear (DEIMv2 wholebody34 class 7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from hsc_infer.errors import ContractError

DetectionKind = Literal["head", "face"]
Box = tuple[int, int, int, int]  # (x1, y1, x2, y2) pixels, x2/y2 exclusive
# Five (x, y) points in frame pixels: right eye, left eye (as seen), nose tip, mouth corners.
Landmarks = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    score: float
    kind: DetectionKind = "head"
    landmarks: Landmarks | None = None  # only detectors that find them

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@runtime_checkable
class Detector(Protocol):
    """Anything that finds heads or faces: plug in another model by implementing `__call__`."""

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """`frame`: (H, W, 3) uint8 BGR. Returns the detections, boxes clamped to the frame."""
        ...


def check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        got = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise TypeError(f"expected a uint8 BGR frame, got {got}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ContractError(f"expected a frame of shape (H, W, 3), got {frame.shape}")


def working_scale(frame_width: int, detect_width: int | None) -> float:
    """The factor a frame is shrunk by before searching: detectors cost grows with the pixel
    count, so wide frames are searched at `detect_width` (None or a narrower frame: 1.0)."""
    if detect_width is None or frame_width <= detect_width:
        return 1.0
    return detect_width / frame_width


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when they do not overlap."""
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def clamp_box(box: Sequence[float], frame_shape: Sequence[int]) -> Box:
    """Integer pixel box covering `box` (floor the start, ceil the end), inside the frame."""
    h, w = frame_shape[:2]
    x1, y1, x2, y2 = box
    return (
        min(max(math.floor(x1), 0), w),
        min(max(math.floor(y1), 0), h),
        min(max(math.ceil(x2), 0), w),
        min(max(math.ceil(y2), 0), h),
    )


def square_patch(
    frame: np.ndarray,
    box: Sequence[float],
    side: int,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """The square at `box`'s corner (x1, y1) with `box`'s width as its side, in frame pixels
    that may reach past the frame, resampled to `side` x `side`. The frame's edge is repeated
    where the square leaves it: a face at the edge keeps its shape and a plausible surround
    instead of being squeezed into what is left inside."""
    x1, y1, x2, _ = box
    scale = side / max(x2 - x1, 1e-6)
    to_patch = np.array([[scale, 0.0, -x1 * scale], [0.0, scale, -y1 * scale]])
    return cv2.warpAffine(
        frame, to_patch, (side, side), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )
