"""The demo with a DEIMv2 wholebody34 detector: every class drawn, the keys that toggle parts,
and the YOLO text of all boxes (docs/wholebody.md)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.demo.args import WHOLEBODY_FLAGS
from hsc_infer.demo.pipeline import FrameResult
from hsc_infer.demo.wholebody.classes import ATTRIBUTES
from hsc_infer.demo.wholebody.draw import KEYPOINT_MODES, DrawSettings, draw_wholebody
from hsc_infer.demo.wholebody.parse import ParsedFrame, WholeBodySettings, parse_wholebody
from hsc_infer.demo.wholebody.yolo import yolo_text
from hsc_infer.detectors import DEIMV2_SCORE_THRESHOLD

logger = logging.getLogger("hsc_infer.demo")

# key -> the attribute whose merge and drawing style it toggles
ATTRIBUTE_KEYS = {"n": "generation", "g": "gender", "p": "head_pose", "h": "handedness"}
_DISABLING_FLAGS = {
    "generation": "disable_generation_identification_mode",
    "gender": "disable_gender_identification_mode",
    "head_pose": "disable_headpose_identification_mode",
    "handedness": "disable_left_and_right_hand_identification_mode",
}


def flags_that_cannot_act(args: argparse.Namespace) -> list[str]:
    """The whole-body flags given away from their defaults (a face detector ignores them)."""
    return [
        flag for flag, (dest, default) in WHOLEBODY_FLAGS.items() if getattr(args, dest) != default
    ]


class WholeBodyView:
    """Parse and draw settings from the flags; keys n, g, p, h, k and b change them."""

    def __init__(self, args: argparse.Namespace) -> None:
        on = {name for name in ATTRIBUTES if not getattr(args, _DISABLING_FLAGS[name])}
        threshold = args.object_score_threshold
        self.parse_settings = WholeBodySettings(
            object_threshold=DEIMV2_SCORE_THRESHOLD if threshold is None else threshold,
            attribute_threshold=args.attribute_score_threshold,
            keypoint_threshold=args.keypoint_threshold,
            merges=frozenset(on),
        )
        self.draw_settings = DrawSettings(
            line_width=args.bounding_box_line_width,
            keypoint_mode=args.keypoint_drawing_mode,
            draw_bones=args.enable_bone_drawing_mode,
            hidden_classes=frozenset(args.disable_render_classids or ()),
            face_mosaic=args.enable_face_mosaic,
            horizontal_fov=args.camera_horizontal_fov,
            styled=on - {"generation"},
        )

    def handle_key(self, key: int) -> None:
        letter = chr(key & 0xFF)
        if letter in ATTRIBUTE_KEYS:
            self._toggle(ATTRIBUTE_KEYS[letter])
        elif letter == "k":
            modes = KEYPOINT_MODES
            current = modes.index(self.draw_settings.keypoint_mode)
            self.draw_settings.keypoint_mode = modes[(current + 1) % len(modes)]
        elif letter == "b":
            self.draw_settings.draw_bones = not self.draw_settings.draw_bones

    def _toggle(self, attribute: str) -> None:
        merges = set(self.parse_settings.merges) ^ {attribute}
        self.parse_settings = WholeBodySettings(
            self.parse_settings.object_threshold,
            self.parse_settings.attribute_threshold,
            self.parse_settings.keypoint_threshold,
            frozenset(merges),
        )
        if attribute != "generation":
            self.draw_settings.styled ^= {attribute}

    def render(
        self,
        canvas: np.ndarray,
        rows: np.ndarray,
        result: FrameResult,
        show_ids: bool,
        show_distance: bool,
    ) -> ParsedFrame:
        """Parse the detector's rows and draw them on `canvas`, heads with their smile."""
        parsed = parse_wholebody(rows, canvas.shape, self.parse_settings)
        self.draw_settings.show_ids = show_ids
        self.draw_settings.show_distance = show_distance
        smiles = {head.detection.box: head for head in result.heads}
        draw_wholebody(canvas, parsed, self.draw_settings, smiles)
        return parsed


def write_yolo(
    folder: Path, stem: str, frame: np.ndarray, canvas: np.ndarray, parsed: ParsedFrame
) -> None:
    """`<stem>_i.png` (the input), `<stem>_o.png` (annotated) and `<stem>.txt` (every box)."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{stem}_i.png"), frame)
    cv2.imwrite(str(folder / f"{stem}_o.png"), canvas)
    (folder / f"{stem}.txt").write_text(yolo_text(parsed))


def log_flags_that_cannot_act(flags: Iterable[str], detector_name: str) -> None:
    flags = list(flags)
    if flags:
        logger.info(
            "%s cannot act with the %s detector: it finds no body attributes or keypoints "
            "(they need -m with a DEIMv2 wholebody34 model)",
            " ".join(flags),
            detector_name,
        )
