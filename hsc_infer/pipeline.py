"""One frame through detect -> crop -> classify (one batch) -> track -> smooth.

The demo and `predict --detect` both use this, so neither holds model logic of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.crops import crop, crop_box, is_empty
from hsc_infer.detectors.base import Box, Detection, Detector
from hsc_infer.smoothing import LONG_HISTORY_SIZE, SHORT_HISTORY_SIZE, TrackSmoother
from hsc_infer.tracking import IouTracker

SMILING_LABEL = "Smiling"


@dataclass(frozen=True, slots=True)
class HeadResult:
    detection: Detection  # what the detector found
    box: Box  # the crop fed to the classifier (pixels)
    prob: float  # smile probability
    smiling: bool  # this frame: prob >= threshold
    track_id: int | None  # None when tracking is off
    label: str  # smoothed: "Smiling" or ""


@dataclass(frozen=True, slots=True)
class FrameResult:
    heads: tuple[HeadResult, ...]
    detector_ms: float
    classifier_ms: float


def detect_and_classify(
    frame: np.ndarray, detector: Detector, classifier: SmileClassifier
) -> tuple[list[Detection], list[Box], np.ndarray, float, float]:
    """Detections, their crop boxes, probabilities (one batch) and both latencies in ms."""
    start = time.perf_counter()
    detections = detector(frame)
    detector_ms = (time.perf_counter() - start) * 1000
    boxes = [crop_box(d, classifier.contract, frame.shape) for d in detections]
    kept = [(d, b) for d, b in zip(detections, boxes, strict=True) if not is_empty(b)]
    start = time.perf_counter()
    probs = classifier.predict([crop(frame, b) for _, b in kept])
    classifier_ms = (time.perf_counter() - start) * 1000
    return [d for d, _ in kept], [b for _, b in kept], probs, detector_ms, classifier_ms


class HeadSmilePipeline:
    """Per-frame results with track ids and smoothed labels.

    With tracking off (or for unrelated still images) there is no history to smooth, so the
    label follows the per-frame state.
    """

    def __init__(
        self,
        detector: Detector,
        classifier: SmileClassifier,
        tracking: bool = True,
        long_history: int = LONG_HISTORY_SIZE,
        short_history: int = SHORT_HISTORY_SIZE,
    ) -> None:
        self.detector = detector
        self.classifier = classifier
        self.tracking = tracking
        self.tracker = IouTracker()
        self.smoother = TrackSmoother(long_history, short_history)

    def set_tracking(self, enabled: bool) -> None:
        if enabled != self.tracking:
            self.tracker.reset()
            self.smoother.reset()
        self.tracking = enabled

    def __call__(self, frame: np.ndarray) -> FrameResult:
        detections, boxes, probs, detector_ms, classifier_ms = detect_and_classify(
            frame, self.detector, self.classifier
        )
        smiling = [bool(p >= self.classifier.threshold) for p in probs]
        if self.tracking:
            # Track on the detector's boxes: they are what stays consistent between frames.
            ids = self.tracker.update([d.box for d in detections])
            smoothed = self.smoother.update(
                dict(zip(ids, smiling, strict=True)), self.tracker.active_ids
            )
            labels = [SMILING_LABEL if smoothed[i] else "" for i in ids]
            track_ids: list[int | None] = list(ids)
        else:
            labels = [SMILING_LABEL if s else "" for s in smiling]
            track_ids = [None] * len(detections)
        heads = tuple(
            HeadResult(d, b, float(p), s, t, lab)
            for d, b, p, s, t, lab in zip(
                detections, boxes, probs, smiling, track_ids, labels, strict=True
            )
        )
        return FrameResult(heads, detector_ms, classifier_ms)
