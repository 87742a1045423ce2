"""The DEIMv2 "wholebody34" detector's full output: 34 classes gated, attributes attached to
their bodies, heads and hands, keypoints thinned and joined into bones, drawn and written as
YOLO text: the reference demo's rendering, with its oddities fixed (docs/wholebody.md lists
them).

    parsed = parse_wholebody(rows, frame.shape, WholeBodySettings())
    draw_wholebody(canvas, parsed, DrawSettings(), smiles_by_head_box)
"""

from hsc_infer.demo.wholebody.classes import CLASS_NAMES, KEYPOINT_IDS, WholeBodyClass
from hsc_infer.demo.wholebody.parse import (
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
