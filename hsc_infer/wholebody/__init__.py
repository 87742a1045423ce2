"""The DEIMv2 "wholebody34" detector's full output: 34 classes gated, attributes attached to
their bodies, heads and hands, keypoints thinned and joined into bones, drawn and written as
YOLO text. The reference demo's rendering, with its oddities fixed (see `rendering.md` in the
specification and docs/architecture.md).

    parsed = parse_wholebody(rows, frame.shape, WholeBodySettings())
    draw_wholebody(canvas, parsed, DrawSettings(), smile_of_head)
"""

from hsc_infer.wholebody.classes import CLASS_NAMES, KEYPOINT_IDS, WholeBodyClass
from hsc_infer.wholebody.parse import (
    WholeBodyObject,
    WholeBodySettings,
    parse_wholebody,
)

__all__ = [
    "CLASS_NAMES",
    "KEYPOINT_IDS",
    "WholeBodyClass",
    "WholeBodyObject",
    "WholeBodySettings",
    "parse_wholebody",
]
