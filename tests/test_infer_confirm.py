"""The pipeline with confirmation: what is shown and classified, on scripted detections."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_tiny_classifier

from hsc_infer import SmileClassifier
from hsc_infer.demo.pipeline import HeadSmilePipeline
from hsc_infer.demo.tracking import IouTracker
from hsc_infer.detectors import Detection
from hsc_infer.frame import classify_detections

FACE = (100, 80, 160, 140)
FALSE = (220, 20, 260, 60)


class ScriptedDetector:
    """Returns the next frame's boxes from a script, as face detections."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def __call__(self, frame):
        boxes = self.script[self.calls]
        self.calls += 1
        return [Detection(box, 0.9, kind="face") for box in boxes]


class CountingClassifier:
    """A classifier that counts the crops it is given."""

    def __init__(self, classifier):
        self.inner, self.crops = classifier, 0
        self.contract, self.threshold = classifier.contract, classifier.threshold

    def predict(self, crops):
        self.crops += len(crops)
        return self.inner.predict(crops)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return SmileClassifier(build_tiny_classifier(tmp_path_factory.mktemp("m") / "m.onnx"))


def frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(count)]


def run(pipeline, count):
    return [pipeline(frame) for frame in frames(count)]


def test_unconfirmed_tracks_hidden_and_not_classified(classifier):
    script = [[FACE], [FACE, FALSE], [FACE], [FACE]]
    counting = CountingClassifier(classifier)
    pipeline = HeadSmilePipeline(ScriptedDetector(script), counting, confirm_hits=2)
    results = run(pipeline, len(script))
    assert [[h.track_id for h in r.heads] for r in results] == [[], [1], [1], [1]]
    assert counting.crops == 3  # the face on frames 1-3; never its first frame, nor the false box


def test_confirmed_face_kept_at_its_last_box(classifier):
    script = [[FACE], [], [], []]
    pipeline = HeadSmilePipeline(
        ScriptedDetector(script), classifier, confirm_hits=1, keep_missed=2
    )
    results = run(pipeline, len(script))
    assert [[h.track_id for h in r.heads] for r in results] == [[1], [1], [1], []]
    assert results[2].heads[0].detection.box == FACE
    assert results[2].heads[0].box == results[0].heads[0].box  # the same crop box


def test_default_is_the_old_pipeline(classifier):
    # k=1, m=0: every detection shown, in order, with the plain tracker's ids and the
    # probabilities of one batch over all of the frame's crops.
    rng = np.random.default_rng(1)
    script = [
        [b for b in (FACE, FALSE, (10, 150, 70, 210)) if rng.random() < 0.7] for _ in range(12)
    ]
    pipeline = HeadSmilePipeline(ScriptedDetector(script), classifier, confirm_hits=1)
    tracker = IouTracker()
    for frame, boxes, result in zip(frames(12), script, run(pipeline, 12), strict=True):
        found = [Detection(b, 0.9, kind="face") for b in boxes]
        detections, crops, probs, _ = classify_detections(frame, found, classifier)
        assert [h.detection for h in result.heads] == detections
        assert [h.box for h in result.heads] == crops
        assert [h.track_id for h in result.heads] == tracker.update([d.box for d in detections])
        np.testing.assert_allclose([h.prob for h in result.heads], probs, rtol=1e-6)


def test_tracking_off_shows_every_detection(classifier):
    script = [[FACE, FALSE]]
    pipeline = HeadSmilePipeline(
        ScriptedDetector(script), classifier, tracking=False, confirm_hits=3
    )
    (result,) = run(pipeline, 1)
    assert [h.track_id for h in result.heads] == [None, None]
