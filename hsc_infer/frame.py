"""One frame through detect -> crop -> classify, all of its crops in one onnxruntime batch.

`predict --detect` detects one photograph per run by default, several same-sized ones per run
with `--detect-batch N` (`detect_each`), and classifies each frame's crops in one run; the
demo's pipeline adds tracking and smoothing on top. Neither holds model logic of its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.crops import crop, crop_box, is_empty
from hsc_infer.detectors.base import Box, Detection, Detector


def classify_detections(
    frame: np.ndarray, detections: list[Detection], classifier: SmileClassifier
) -> tuple[list[Detection], list[Box], np.ndarray, float]:
    """Detections with a non-empty crop, their crop boxes, probabilities (one batch), and the
    classifier's ms (cropping and preprocessing included)."""
    start = time.perf_counter()
    boxes = [crop_box(d, classifier.contract, frame.shape) for d in detections]
    kept = [(d, b) for d, b in zip(detections, boxes, strict=True) if not is_empty(b)]
    probs = classifier.predict([crop(frame, b) for _, b in kept])
    classifier_ms = (time.perf_counter() - start) * 1000
    return [d for d, _ in kept], [b for _, b in kept], probs, classifier_ms


def detect_each(frames: Sequence[np.ndarray], detector: Detector) -> list[list[Detection]]:
    """Each frame's detections: in batches where the detector searches several frames in one
    run (`detect_batch`, as YuNet does), else one frame at a time."""
    detect_batch = getattr(detector, "detect_batch", None)
    if detect_batch is not None:
        return detect_batch(frames)
    return [detector(frame) for frame in frames]
