"""The detector interface: a BGR frame in, head or face boxes in pixels out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from hsc_infer.errors import ContractError

DetectionKind = Literal["head", "face"]
Box = tuple[int, int, int, int]  # (x1, y1, x2, y2) pixels, x2/y2 exclusive


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    score: float
    kind: DetectionKind = "head"

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
