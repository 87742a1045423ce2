"""Annotations for the demo: head boxes, labels, ids, distances, latency and FPS."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from hsc_infer.crops import head_to_face
from hsc_infer.demo.pipeline import FrameResult, HeadResult

SMILING_COLOUR = (0, 210, 0)  # BGR green
NOT_SMILING_COLOUR = (0, 0, 255)  # BGR red
AVERAGE_HEAD_WIDTH_M = 0.16 + 0.10  # 16 cm plus the reference's margin compensation
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def focal_length_px(image_width: int, horizontal_fov_deg: float) -> float:
    """Pinhole focal length up to 90 degrees; equidistant fisheye model above."""
    fov = math.radians(horizontal_fov_deg)
    if horizontal_fov_deg > 90:
        return image_width / fov
    return image_width / (2 * math.tan(fov / 2))


def head_distance_m(
    head_width_px: float, image_width: int, horizontal_fov_deg: float = 90
) -> float:
    """Pinhole distance of a head `head_width_px` wide (a head box's width, not a face's)."""
    focal = focal_length_px(image_width, horizontal_fov_deg)
    return AVERAGE_HEAD_WIDTH_M * focal / max(1.0, head_width_px)


def outlined_text(
    image: np.ndarray, text: str, origin: tuple[int, int], colour, scale: float = 0.6
) -> None:
    """Text with a white outline, readable on any background."""
    cv2.putText(image, text, origin, _FONT, scale, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


def mosaic(image: np.ndarray, box: Sequence[int], cells: int = 3) -> None:
    x1, y1, x2, y2 = (int(v) for v in box)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(image.shape[1], x2), min(image.shape[0], y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    small = cv2.resize(image[y1:y2, x1:x2], (cells, cells), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


def face_region(head: HeadResult) -> Sequence[float]:
    """The face inside a head's detection (the detection itself for a face detector)."""
    box = head.detection.box
    return box if head.detection.kind == "face" else head_to_face(box)


def draw_head(
    image: np.ndarray,
    head: HeadResult,
    line_width: int = 2,
    show_id: bool = True,
    horizontal_fov: float | None = 90,
) -> None:
    """Box (green when the smoothed label is on, red otherwise), label and probability above,
    `ID: n` and the distance estimate below when asked."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = head.box
    colour = SMILING_COLOUR if head.label else NOT_SMILING_COLOUR
    cv2.rectangle(image, (x1, y1), (x2, y2), (255, 255, 255), line_width)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, max(1, line_width - 1))
    text = f"{head.label} {head.prob:.3f}" if head.label else f"{head.prob:.3f}"
    text_x = x1 if x1 + 50 < w else w - 50
    outlined_text(image, text, (text_x, y1 - 10 if y1 - 25 > 0 else 20), colour, 0.7)
    below = min(y2 + 20, h - 5)
    if show_id and head.track_id is not None:
        outlined_text(image, f"ID: {head.track_id}", (max(x1, 0), below), colour)
        below = min(below + 20, h - 5)
    if horizontal_fov is not None:
        distance = head_distance_m(head.head_width, w, horizontal_fov)
        outlined_text(image, f"{distance:.2f} m", (max(x1, 0), below), colour)


def draw_stats(
    image: np.ndarray, fps: float, result: FrameResult, stages: str | None = None
) -> None:
    """Top left: model latency and FPS, then each stage's ms of the last frame when given."""
    total = result.detector_ms + result.classifier_ms
    lines = [
        f"{total:.1f} ms  FPS {fps:.1f}",
        f"det {result.detector_ms:.1f} ms  cls {result.classifier_ms:.1f} ms",
    ]
    if stages:
        lines[1] = stages + " ms"
    for i, line in enumerate(lines):
        outlined_text(image, line, (10, 25 + 24 * i), (0, 0, 255), 0.6)


def draw_frame(
    image: np.ndarray,
    result: FrameResult,
    fps: float | None,
    line_width: int = 2,
    show_ids: bool = True,
    horizontal_fov: float | None = 90,
    face_mosaic: bool = False,
    stages: str | None = None,
) -> np.ndarray:
    """Annotate `image` in place and return it. `stages`: the per-stage line for the overlay."""
    if face_mosaic:
        for head in result.heads:
            mosaic(image, face_region(head))
    for head in result.heads:
        draw_head(image, head, line_width, show_ids, horizontal_fov)
    if fps is not None:
        draw_stats(image, fps, result, stages)
    return image
