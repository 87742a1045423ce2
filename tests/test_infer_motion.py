"""Detecting every Nth frame: boxes carried with the image in between, ids and labels kept."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_tiny_classifier

from hsc_infer import SmileClassifier
from hsc_infer.demo.motion import BoxCarrier
from hsc_infer.demo.pipeline import HeadSmilePipeline
from hsc_infer.detectors import Detection


def textured_frame(shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Smooth random texture (trackable everywhere), moved by `shift` (dx, dy) pixels."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (80, 100, 3), dtype=np.uint8), (400, 320))
    base = cv2.GaussianBlur(base, (5, 5), 0)
    dx, dy = shift  # a window of the larger texture, so the content moves without wrapping
    return np.ascontiguousarray(base[40 - dy : 280 - dy, 40 - dx : 360 - dx])


def test_carried_box_follows_the_image():
    carrier = BoxCarrier()
    face = Detection((100, 80, 160, 140), 0.9, kind="face", landmarks=((110.0, 95.0),) * 5)
    carrier.reset(textured_frame(), [face])
    (moved,) = carrier.carry(textured_frame((6, -4)))
    assert moved.box == (106, 76, 166, 136)
    assert moved.landmarks[0] == (116.0, 91.0)
    assert moved.score == face.score and moved.kind == "face"
    (again,) = carrier.carry(textured_frame((10, -4)))  # measured from the last frame
    assert again.box == (110, 76, 170, 136)


def test_nothing_to_carry():
    carrier = BoxCarrier()
    assert carrier.carry(textured_frame()) == []
    carrier.reset(textured_frame(), [])
    assert carrier.carry(textured_frame((3, 0))) == []


class CountingDetector:
    def __init__(self, box):
        self.box, self.calls = box, 0

    def __call__(self, frame):
        self.calls += 1
        return [Detection(self.box, 0.9, kind="face")]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return SmileClassifier(build_tiny_classifier(tmp_path_factory.mktemp("m") / "m.onnx"))


def test_pipeline_detects_every_nth_frame_and_keeps_ids(classifier):
    detector = CountingDetector((100, 80, 160, 140))
    pipeline = HeadSmilePipeline(detector, classifier, detect_every=3, confirm_hits=1)
    results = [pipeline(textured_frame((2 * i, 0))) for i in range(7)]
    assert detector.calls == 3  # frames 0, 3, 6
    assert [r.detected for r in results] == [True, False, False, True, False, False, True]
    assert all(r.detector_ms == 0 for r in results if not r.detected)
    assert {h.track_id for r in results for h in r.heads} == {1}
    # Frame 2 is two frames after the detector's box: carried 4 px right with the texture.
    assert results[2].heads[0].detection.box == (104, 80, 164, 140)


def test_pipeline_detects_every_frame_without_tracking(classifier):
    detector = CountingDetector((100, 80, 160, 140))
    pipeline = HeadSmilePipeline(detector, classifier, tracking=False, detect_every=3)
    for i in range(4):
        pipeline(textured_frame((i, 0)))
    assert detector.calls == 4  # unrelated images: nothing to carry
    with pytest.raises(ValueError, match="detect_every"):
        HeadSmilePipeline(detector, classifier, detect_every=0)
