"""The demo's per-frame results: detect -> crop -> classify (`hsc_infer.frame`), then track ids
and a smoothed label per head, with the detector optionally run on every Nth frame only.

With tracking on, boxes are tracked before they are classified, so that only what is shown
costs classifier time: the detections of confirmed tracks, and confirmed tracks kept at their
last box for a few frames after their detection went (`tracking.py`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.contract import CropKind
from hsc_infer.crops import crop, crop_box, face_to_head, is_empty
from hsc_infer.demo.motion import BoxCarrier
from hsc_infer.demo.smoothing import LONG_HISTORY_SIZE, SHORT_HISTORY_SIZE, TrackSmoother
from hsc_infer.demo.tracking import CONFIRM_HITS, KEEP_MISSED, IouTracker
from hsc_infer.detectors.base import Box, Detection, Detector
from hsc_infer.frame import classify_detections

SMILING_LABEL = "Smiling"


@dataclass(frozen=True, slots=True)
class HeadResult:
    detection: Detection  # what the detector found (or its box carried to this frame)
    box: Box  # the crop fed to the classifier (pixels)
    prob: float  # smile probability
    smiling: bool  # this frame: prob >= threshold
    track_id: int | None  # None when tracking is off
    label: str  # smoothed: "Smiling" or ""
    kind: CropKind = "head"  # what `box` holds: the model contract's crop kind

    @property
    def head_width(self) -> float:
        """The head's width in pixels from the detection, whatever the crop is: a head box's
        own width, or the head a face box implies (the crop may be a face cut from a head box,
        or a head grown from a face box; its width is not the head's)."""
        box = self.detection.box
        if self.detection.kind == "face":
            box = face_to_head(box)
        return float(box[2] - box[0])


@dataclass(frozen=True, slots=True)
class FrameResult:
    heads: tuple[HeadResult, ...]
    detector_ms: float  # 0 on a frame whose boxes were carried from the last detector run
    classifier_ms: float
    tracking_ms: float = 0.0  # tracking, smoothing and carrying boxes between detector runs
    detected: bool = True  # False: the detector skipped this frame (`detect_every`)


class HeadSmilePipeline:
    """Per-frame results with track ids and smoothed labels.

    With tracking off (or for unrelated still images) there is no history to smooth, so the
    label follows the per-frame state. `detect_every` N > 1 runs the detector on every Nth
    frame only and, in between, carries its boxes with the image motion (`motion.BoxCarrier`);
    every frame is still classified. It needs tracking on (frames of one video).

    `confirm_hits` and `keep_missed` (tracking on only): a new track is shown once the detector
    has found it on that many runs, and a shown one stays on for that many frames after its
    detection is lost (`tracking.IouTracker`); 1 and 0 show every detection at once, and only
    then. With tracking off every detection is shown.
    """

    def __init__(
        self,
        detector: Detector,
        classifier: SmileClassifier,
        tracking: bool = True,
        long_history: int = LONG_HISTORY_SIZE,
        short_history: int = SHORT_HISTORY_SIZE,
        detect_every: int = 1,
        confirm_hits: int = CONFIRM_HITS,
        keep_missed: int = KEEP_MISSED,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self.classifier = classifier
        self.tracking = tracking
        self.detect_every = detect_every
        self.tracker = IouTracker(confirm_hits=confirm_hits, keep_missed=keep_missed)
        self.smoother = TrackSmoother(long_history, short_history)
        self.carrier = BoxCarrier()
        self._since_detection = 0
        self._last: dict[int, Detection] = {}  # each live track's last detection

    def set_tracking(self, enabled: bool) -> None:
        if enabled != self.tracking:
            self.tracker.reset()
            self.smoother.reset()
            self._since_detection = 0
            self._last.clear()
        self.tracking = enabled

    def _detections(self, frame: np.ndarray) -> tuple[list[Detection], float, float, bool]:
        """(detections, detector ms, carrying ms, whether the detector ran)."""
        carry = self.tracking and self.detect_every > 1
        if carry and 0 < self._since_detection < self.detect_every:
            self._since_detection += 1
            start = time.perf_counter()
            detections = self.carrier.carry(frame)
            return detections, 0.0, (time.perf_counter() - start) * 1000, False
        start = time.perf_counter()
        detections = self.detector(frame)
        detector_ms = (time.perf_counter() - start) * 1000
        carry_ms = 0.0
        if carry:
            start = time.perf_counter()
            self.carrier.reset(frame, detections)
            carry_ms = (time.perf_counter() - start) * 1000
            self._since_detection = 1
        return detections, detector_ms, carry_ms, True

    def _shown(
        self, frame: np.ndarray, found: list[Detection], detected: bool
    ) -> tuple[list[tuple[Detection, Box, int]], float, float]:
        """(detection, crop box, track id) of each head to show, then the ms spent on crop
        boxes and on tracking."""
        start = time.perf_counter()
        contract = self.classifier.contract
        boxed = [(d, crop_box(d, contract, frame.shape)) for d in found]
        boxed = [(d, b) for d, b in boxed if not is_empty(b)]
        crop_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        # Track on the detector's boxes: they are what stays consistent between frames.
        ids = self.tracker.update([d.box for d, _ in boxed], detected)
        confirmed = self.tracker.confirmed_ids
        shown = []
        for (detection, box), track_id in zip(boxed, ids, strict=True):
            self._last[track_id] = detection
            if track_id in confirmed:
                shown.append((detection, box, track_id))
        tracking_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        for track in self.tracker.kept_tracks():
            detection = self._last[track.track_id]
            box = crop_box(detection, contract, frame.shape)
            if not is_empty(box):
                shown.append((detection, box, track.track_id))
        alive = self.tracker.active_ids
        self._last = {i: d for i, d in self._last.items() if i in alive}
        crop_ms += (time.perf_counter() - start) * 1000
        return shown, crop_ms, tracking_ms

    def __call__(self, frame: np.ndarray) -> FrameResult:
        found, detector_ms, carry_ms, detected = self._detections(frame)
        if not self.tracking:
            detections, boxes, probs, classifier_ms = classify_detections(
                frame, found, self.classifier
            )
            smiling = [bool(p >= self.classifier.threshold) for p in probs]
            labels = [SMILING_LABEL if s else "" for s in smiling]
            track_ids: list[int | None] = [None] * len(detections)
            tracking_ms = carry_ms
        else:
            shown, crop_ms, tracking_ms = self._shown(frame, found, detected)
            detections = [d for d, _, _ in shown]
            boxes = [b for _, b, _ in shown]
            start = time.perf_counter()
            probs = self.classifier.predict([crop(frame, b) for b in boxes])
            classifier_ms = crop_ms + (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            smiling = [bool(p >= self.classifier.threshold) for p in probs]
            ids = [i for _, _, i in shown]
            # Tentative tracks get no history: a track's smoothing starts when it is shown.
            smoothed = self.smoother.update(
                dict(zip(ids, smiling, strict=True)), self.tracker.confirmed_ids
            )
            labels = [SMILING_LABEL if smoothed[i] else "" for i in ids]
            track_ids = list(ids)
            tracking_ms += carry_ms + (time.perf_counter() - start) * 1000
        kind = self.classifier.contract.crop_kind
        heads = tuple(
            HeadResult(d, b, float(p), s, t, lab, kind)
            for d, b, p, s, t, lab in zip(
                detections, boxes, probs, smiling, track_ids, labels, strict=True
            )
        )
        return FrameResult(heads, detector_ms, classifier_ms, tracking_ms, detected)
