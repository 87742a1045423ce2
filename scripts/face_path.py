"""Does detect -> crop -> classify on a camera frame reproduce the crops a model was trained on?

Known face crops (e.g. FERPlus test faces) are pasted into larger colour frames
(`paste_face_in_frame`); the detector has to find each one, the contract turns
its box into a crop, and the classifier's decisions are compared with its decisions on the
original crops. A contract whose crop kind, margin or colour mode does not match the training
data shows up as a gap between the two F1 scores. `scripts/check_face_path.py` runs it on the
shipped models; tests/test_pathcheck.py imports this module with scripts/ on sys.path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.crops import crop, crop_box
from hsc_infer.detectors.base import Detector
from hsc_infer.tracking import iou

MIN_IOU = 0.3  # a detection overlapping the pasted face this much counts as finding it
SKIN_TONES_BGR = ((0.72, 0.82, 1.0), (0.60, 0.72, 0.92), (0.45, 0.55, 0.70), (0.80, 0.86, 0.98))


def paste_face_in_frame(
    face: np.ndarray,
    rng: np.random.Generator,
    frame_size: tuple[int, int] = (480, 640),
    side_range: tuple[int, int] = (110, 200),
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A colour BGR frame holding `face` (a grey or BGR face crop) and the pasted box.

    The face is enlarged to a random side in `side_range`, tinted with a skin tone (so a colour
    model and a grey one see different pixels) and placed at a random spot on a smooth random
    colour gradient with mild noise: a stand-in for a camera frame around a known face.
    """
    h, w = frame_size
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    side = int(rng.integers(side_range[0], side_range[1] + 1))
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    tone = np.asarray(SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))], np.float32)
    corners = rng.uniform(40, 220, size=(2, 2, 3)).astype(np.float32)
    frame = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    frame += rng.normal(0.0, 4.0, size=frame.shape).astype(np.float32)
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    frame[y : y + side, x : x + side] = big[..., None] * tone
    return np.clip(frame, 0, 255).astype(np.uint8), (x, y, x + side, y + side)


def leak_free_test_faces(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """(BGR uint8 faces, smiling labels) of a dataset's test split as the data layer builds it:
    on FERPlus, `load_dataset` leaves out copies of train images and label conflicts, giving
    the 2,904-face leak-free split. Needs the train extras (hsc_jax.data)."""
    from hsc_jax.data.dataset import load_dataset

    test = load_dataset(path).splits["test"]  # (N, 48, 48, 3) RGB
    return [image[..., ::-1].copy() for image in test.images], test.labels == 1


def f1_score(predicted: np.ndarray, labels: np.ndarray) -> float:
    """F1 of boolean predictions against boolean labels (0.0 when both are all negative)."""
    tp = float(np.sum(predicted & labels))
    denominator = float(predicted.sum() + labels.sum())
    return 2 * tp / denominator if denominator else 0.0


@dataclass(frozen=True)
class PathCheck:
    faces: int
    found: int  # faces the detector found (IoU >= MIN_IOU with the pasted box)
    box_scale: float  # median detected side / pasted side, over found faces
    f1_direct: float  # on the original crops, every face
    f1_path: dict[float, float]  # crop margin -> F1 through the frame; a missed face = not smiling
    f1_direct_found: float  # on the original crops of the found faces only
    f1_path_found: dict[float, float]  # crop margin -> F1 through the frame, found faces only

    @property
    def found_rate(self) -> float:
        return self.found / self.faces if self.faces else 0.0


def check_pasted_faces(
    classifier: SmileClassifier,
    detector: Detector,
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    seed: int = 0,
    margins: Sequence[float] | None = None,
) -> PathCheck:
    """Paste each face into its own frame and compare the path's F1 with the direct one.

    `faces`: BGR (or grey) crops as the model was trained on; `labels`: True for smiling.
    `margins`: crop margins to try (default: the contract's own).
    """
    labels = np.asarray(labels, dtype=bool)
    margins = [classifier.contract.crop_margin] if margins is None else list(margins)
    direct = classifier.predict(list(faces)) >= classifier.threshold
    rng = np.random.default_rng(seed)
    found_detections, scales = [], []
    frames = []
    for face in faces:
        frame, pasted = paste_face_in_frame(face, rng)
        detections = detector(frame)
        best = max(detections, key=lambda d: iou(d.box, pasted), default=None)
        if best is not None and iou(best.box, pasted) >= MIN_IOU:
            found_detections.append(best)
            scales.append((best.box[2] - best.box[0]) / (pasted[2] - pasted[0]))
        else:
            found_detections.append(None)
        frames.append(frame)

    found = np.array([d is not None for d in found_detections], dtype=bool)
    f1_path, f1_path_found = {}, {}
    for margin in margins:
        contract = replace(classifier.contract, crop_margin=margin)
        crops, where = [], []
        for i, (frame, detection) in enumerate(zip(frames, found_detections, strict=True)):
            if detection is not None:
                crops.append(crop(frame, crop_box(detection, contract, frame.shape)))
                where.append(i)
        predicted = np.zeros(len(faces), dtype=bool)
        if crops:
            predicted[where] = classifier.predict(crops) >= classifier.threshold
        f1_path[margin] = f1_score(predicted, labels)
        f1_path_found[margin] = f1_score(predicted[found], labels[found])
    return PathCheck(
        faces=len(faces),
        found=len(scales),
        box_scale=float(np.median(scales)) if scales else float("nan"),
        f1_direct=f1_score(direct, labels),
        f1_path=f1_path,
        f1_direct_found=f1_score(direct[found], labels[found]),
        f1_path_found=f1_path_found,
    )
