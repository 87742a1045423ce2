"""FERPlus-shift's `detector_crop`: the crop the shipped face detector cuts around a face in a
real photograph, instead of the FER2013 crop.

Each face gets its own 640x480 frame, drawn from `shift_rng("detector_crop", index)`: a window
of one of scikit-image's photographs (`frames.BACKGROUNDS`), the face enlarged to 60-220 px,
skin-tinted and blended in at a random spot (`frames.paste_face`, as `benchmarks.face_path.run`
builds its frames). YuNet as the demo ran it when the shift set was frozen (448 px, score 0.5,
no second look; the demo's detector has moved on since) runs on the frame; the detection
overlapping the pasted box best, with IoU >= 0.3, is cut as each model's contract says
(`crop_box`). A face the detector misses has no crop: the benchmark
counts it as "not smiling".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.face_path.frames import (
    BACKGROUNDS,
    MIN_IOU,
    background_frame,
    paste_face,
    skin_tone,
)
from hsc_infer.contract import ModelContract
from hsc_infer.crops import crop, crop_box
from hsc_infer.detectors import Detection, Detector, YuNetFaceDetector
from hsc_infer.detectors.base import iou
from hsc_jax.evaluation.shifts import DETECTOR_CROP, shift_rng

FRAME_SIZE = (480, 640)  # (H, W), a webcam's
FACE_SIDE = (60, 220)  # px in the frame, as benchmarks.face_path.run pastes them


def detector() -> Detector:
    """The detector the shift set names: YuNet with the settings the demo had when
    `ferplus-shift-v1` was frozen, so its figures stay comparable. It ran on the yuface engine
    then; the ONNX port finds the same candidates after yuface's integer rounding
    (docs/face-path-benchmark.md), so its figures may move by a face or so."""
    # Every setting that shapes the boxes pinned, not the detector's defaults: a change of the
    # product's defaults must not change the frozen set's figures.
    return YuNetFaceDetector(
        score_threshold=0.5,
        detect_width=448,
        min_face=32,
        landmark_check=False,
        second_look=None,
    )


def pasted_frame(
    face: np.ndarray, index: int, photos: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Face `index`'s frame (BGR) and the box it was pasted at."""
    rng = shift_rng(DETECTOR_CROP, index)
    name = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    frame = background_frame(photos[name], rng, FRAME_SIZE)
    side = int(rng.integers(FACE_SIDE[0], FACE_SIDE[1] + 1))
    x = int(rng.integers(0, FRAME_SIZE[1] - side + 1))
    y = int(rng.integers(0, FRAME_SIZE[0] - side + 1))
    tone = skin_tone(rng)
    box = (x, y, x + side, y + side)
    paste_face(frame, face, box, tone)
    return frame, box


def find_pasted(detections: Sequence[Detection], box: tuple[int, int, int, int]):
    """The detection of the pasted face (best IoU, at least MIN_IOU), or None."""
    best = max(detections, key=lambda d: iou(d.box, box), default=None)
    return best if best is not None and iou(best.box, box) >= MIN_IOU else None


@dataclass(frozen=True)
class DetectorCrops:
    found: np.ndarray  # (N,) bool: the detector found face i
    crops: dict[str, list[np.ndarray]]  # per contract name: the crops of the found faces, in order

    @property
    def recall(self) -> float:
        return float(self.found.mean()) if self.found.size else 0.0


def detector_crops(
    faces: Sequence[np.ndarray],
    contracts: Mapping[str, ModelContract],
    photos: Mapping[str, np.ndarray],
    face_detector: Detector,
) -> DetectorCrops:
    """Every face through its frame and the detector, cut once per contract (models may differ
    in crop kind and margin; the frame and the detection are the same for all)."""
    found = np.zeros(len(faces), dtype=bool)
    crops: dict[str, list[np.ndarray]] = {name: [] for name in contracts}
    for index, face in enumerate(faces):
        frame, box = pasted_frame(face, index, photos)
        detection = find_pasted(face_detector(frame), box)
        if detection is None:
            continue
        found[index] = True
        for name, contract in contracts.items():
            crops[name].append(crop(frame, crop_box(detection, contract, frame.shape)).copy())
    return DetectorCrops(found, crops)
