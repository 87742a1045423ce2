"""Detectors (DEIMv2 format, Haar default) and the contract-driven crop boxes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import assert_detector_contract, build_tiny_deimv2

from hsc_infer import ModelContract
from hsc_infer.crops import add_margin, crop, crop_box, face_to_head, head_to_face
from hsc_infer.detectors import (
    Deimv2Detector,
    Detection,
    HaarFaceDetector,
    YuNetFaceDetector,
    load_detector,
)

ROWS = [
    [7, 0.25, 0.10, 0.50, 0.60, 0.90],  # head
    [0, 0.10, 0.10, 0.90, 0.90, 0.95],  # body: ignored
    [7, 0.60, 0.20, 0.70, 0.30, 0.20],  # head below the score threshold
    [7, -0.10, 0.50, 1.20, 1.05, 0.35],  # head past the edges, score exactly at the threshold
]


@pytest.fixture(scope="module")
def deimv2(tmp_path_factory):
    return build_tiny_deimv2(tmp_path_factory.mktemp("det") / "deimv2.onnx", np.array(ROWS))


def test_deimv2_heads_in_pixels(deimv2):
    detector = Deimv2Detector(deimv2, "cpu", score_threshold=0.35)
    frame = np.zeros((200, 300, 3), np.uint8)
    found = assert_detector_contract(detector, frame, kind="head")
    assert found == [
        Detection(box=(75, 20, 150, 120), score=pytest.approx(0.9), kind="head"),
        Detection(box=(0, 100, 300, 200), score=pytest.approx(0.35), kind="head"),
    ]
    assert detector.preprocess(frame).shape == (1, 3, 200, 300)
    assert detector.preprocess(frame).dtype == np.float32


def test_deimv2_rejects_bad_frames(deimv2):
    detector = Deimv2Detector(deimv2)
    with pytest.raises(TypeError, match="uint8"):
        detector(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector(np.zeros((10, 10), np.uint8))


def test_detection_is_frozen():
    d = Detection((0, 0, 4, 2), 0.5)
    with pytest.raises(AttributeError):
        d.score = 1.0
    assert (d.width, d.height, d.kind) == (4, 2, "head")


def test_default_detector_is_yunet_with_no_yuface(monkeypatch):
    monkeypatch.setitem(sys.modules, "yuface", None)  # as on Python 3.12+, macOS, ARM
    detector = load_detector(None)
    assert isinstance(detector, YuNetFaceDetector)
    assert detector.session.get_providers() == ["CPUExecutionProvider"]


def test_haar_detector_by_name():
    detector = load_detector("haar")
    assert isinstance(detector, HaarFaceDetector) and isinstance(
        load_detector("HAAR"), type(detector)
    )
    assert assert_detector_contract(detector, np.zeros((120, 160, 3), np.uint8), "face") == []


def test_yunet_only_settings_given_for_another_detector_are_reported(caplog):
    with caplog.at_level("WARNING", logger="hsc_infer.detectors"):
        assert isinstance(load_detector("haar", threads=2, detect_width=320), HaarFaceDetector)
    assert caplog.messages == [
        "threads and detect_width apply to YuNet only; the Haar detector ignores them"
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="hsc_infer.detectors"):
        load_detector("haar")
    assert caplog.messages == []


def test_haar_cascade_choice_and_a_bad_name():
    assert HaarFaceDetector(cascade="alt2", equalize=False).equalize is False
    with pytest.raises(ValueError, match="alt2"):
        HaarFaceDetector(cascade="profile")


def test_load_detector_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="DEIMv2"):
        load_detector(tmp_path / "none.onnx")


def test_face_head_conversions_are_inverse():
    face = (100.0, 100.0, 150.0, 160.0)
    head = face_to_head(face)
    assert head[2] - head[0] == pytest.approx(80.0)  # 1.6x wider
    assert head[3] - head[1] == pytest.approx(96.0)  # 1.6x taller
    assert (head[1] + head[3]) / 2 == pytest.approx(130 - 6)  # shifted up 0.1 face height
    np.testing.assert_allclose(head_to_face(head), face)


def test_crop_box_follows_contract():
    frame_shape = (480, 640, 3)
    face = Detection((300, 200, 350, 250), 1.0, kind="face")
    head = Detection((300, 200, 380, 280), 1.0, kind="head")
    head_model = ModelContract()
    face_model = ModelContract(crop_kind="face", crop_margin=0.25)
    assert crop_box(head, head_model, frame_shape) == head.box  # reference models: as detected
    assert crop_box(face, head_model, frame_shape) == (285, 180, 365, 260)  # grown to a head
    # Head to face: 50x50 centred at (340, 245); then 12.5 px margin per side, covered outward.
    assert crop_box(head, face_model, frame_shape) == (302, 207, 378, 283)
    assert add_margin((0, 0, 10, 20), 0.1) == (-1.0, -2.0, 11.0, 22.0)


def test_crop_box_clamped_to_frame():
    frame = np.zeros((100, 100, 3), np.uint8)
    box = crop_box(Detection((0, 0, 40, 40), 1.0, kind="face"), ModelContract(), frame.shape)
    assert box == (0, 0, 52, 48)
    assert crop(frame, box).shape == (48, 52, 3)


class FakeCascade:
    def __init__(self, found):
        self.found, self.seen = found, None

    def detectMultiScale(self, grey, **kwargs):
        self.seen = grey.shape
        return np.array(self.found)


def test_haar_searches_downscaled_and_scales_boxes_back():
    detector = HaarFaceDetector(detect_width=320)
    detector._cascade = FakeCascade([[10, 20, 30, 30], [300, 220, 30, 30]])
    found = assert_detector_contract(detector, np.zeros((480, 640, 3), np.uint8), "face")
    assert detector._cascade.seen == (240, 320)
    # The second box runs past the bottom-right corner: clamped to the frame.
    assert found == [
        Detection((20, 40, 80, 100), 1.0, kind="face"),
        Detection((600, 440, 640, 480), 1.0, kind="face"),
    ]
    detector._cascade = FakeCascade([])
    assert detector(np.zeros((100, 200, 3), np.uint8)) == []
    assert detector._cascade.seen == (100, 200)  # small frames searched as they are


def test_pipeline_with_a_plugged_in_face_detector(tmp_path):
    from helpers import build_tiny_classifier

    from hsc_infer import SmileClassifier
    from hsc_infer.demo.pipeline import HeadSmilePipeline

    def faces(frame):
        return [Detection((100, 100, 150, 150), 1.0, kind="face")]

    clf = SmileClassifier(build_tiny_classifier(tmp_path / "m.onnx"))
    pipeline = HeadSmilePipeline(faces, clf)
    frame = np.zeros((240, 320, 3), np.uint8)
    for _ in range(3):
        result = pipeline(frame)
    (head,) = result.heads
    assert head.box == (85, 80, 165, 160)  # grown to the head crop a reference model expects
    assert head.track_id == 1 and head.label == "" and head.smiling is False
    assert result.detector_ms >= 0 and result.classifier_ms > 0


def test_the_execution_provider_reaches_yunet(monkeypatch):
    """`-ep` moves YuNet with the classifier: the session is asked for the chain of `provider`."""
    import hsc_infer.detectors.yunet as yunet

    asked = {}
    real = yunet.create_session

    def spy(path, provider="cpu", **settings):
        asked.update(provider=provider, **settings)
        return real(path, "cpu", **{k: v for k, v in settings.items() if k != "trt_profile"})

    monkeypatch.setattr(yunet, "create_session", spy)
    load_detector(None, provider="tensorrt", trt_cache_dir="/tmp/engines")
    assert asked["provider"] == "tensorrt" and asked["trt_cache_dir"] == "/tmp/engines"
    assert asked["trt_profile"] == yunet.TENSORRT_PROFILE
