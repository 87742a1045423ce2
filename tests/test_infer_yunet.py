"""The YuNet face detector (yuface wheel): its output in frame pixels, its box convention mapped
to the crop the contract asks for, its settings, and where its wheel is declared."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import assert_detector_contract
from packaging.requirements import Requirement

from hsc_infer import ModelContract
from hsc_infer.crops import crop_box, face_to_head
from hsc_infer.detectors import Detection, YuNetFaceDetector, load_detector
from hsc_infer.detectors.base import iou
from hsc_infer.detectors.landmarks import plausible_face
from hsc_infer.detectors.yunet import DEFAULT_LANDMARK_CHECK, yunet_to_face
from hsc_infer.errors import MediaError

ROOT = Path(__file__).resolve().parents[1]
# Her face in scikit-image's astronaut.png, as the Haar cascades and a FER crop frame it.
ASTRONAUT_FACE = (177, 66, 272, 161)


class FakeYuface:
    """yuface.detect's interface: (scores 0-100, XYWH boxes, 10 landmark coordinates) of the
    image it is given, here fixed rows in the searched image's pixels."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, np.int16).reshape(-1, 15)
        self.seen = None

    def detect(self, image, conf=0.5):
        self.seen = image.shape
        return self.rows[:, 0], self.rows[:, 1:5], self.rows[:, 5:15]


def fake_detector(rows, **settings) -> YuNetFaceDetector:
    detector = YuNetFaceDetector.__new__(YuNetFaceDetector)
    detector.score_threshold = settings.get("score_threshold", 0.7)
    detector.detect_width = settings.get("detect_width", 320)
    detector.min_face = settings.get("min_face", 32)
    detector.threads, detector._set_threads = None, None
    detector.landmark_check = settings.get("landmark_check", DEFAULT_LANDMARK_CHECK)
    detector.second_look = settings.get("second_look")
    detector._yuface = FakeYuface(rows)
    return detector


LANDMARKS = [20, 30, 40, 30, 30, 40, 22, 50, 38, 50]  # eyes, nose, mouth corners


def test_yunet_to_face_is_a_square_of_0_9_box_heights_on_its_centre():
    assert yunet_to_face((100, 100, 180, 200)) == pytest.approx((95, 105, 185, 195))


def test_boxes_and_landmarks_come_back_in_frame_pixels_thresholded():
    rows = [
        [90, 10, 20, 40, 50, *LANDMARKS],  # a face: 40x50 searched = 80x100 in the frame
        [60, 100, 20, 40, 50, *LANDMARKS],  # below the score threshold
        [95, 200, 200, 12, 15, *LANDMARKS],  # 24 px wide in the frame: under min_face
    ]
    detector = fake_detector(rows)
    frame = np.zeros((480, 640, 3), np.uint8)
    (face,) = assert_detector_contract(detector, frame, "face")
    assert detector._yuface.seen == (240, 320, 3)  # searched at the working width
    # YuNet's box (20, 40)-(100, 140) in the frame; the face: 90 px square on its centre
    assert face.box == (15, 45, 105, 135)
    assert face.score == pytest.approx(0.9)
    assert face.landmarks[0] == (40.0, 60.0) and len(face.landmarks) == 5
    detector.min_face = 0
    assert len(detector(frame)) == 2
    detector.score_threshold = 0.5
    assert len(detector(frame)) == 3


def test_the_landmark_check_drops_layouts_no_face_has():
    # Both boxes (10, 20)-(50, 70) searched; landmarks of a face, then of a line of text.
    face = [20, 30, 40, 30, 30, 40, 22, 50, 38, 50]
    line = [12, 45, 20, 45, 28, 45, 36, 45, 44, 45]
    rows = [[90, 10, 20, 40, 50, *face], [90, 10, 20, 40, 50, *line]]
    frame = np.zeros((240, 320, 3), np.uint8)
    assert len(fake_detector(rows, landmark_check=False)(frame)) == 2
    (kept,) = fake_detector(rows, landmark_check=True)(frame)
    assert kept.landmarks[0] == (20.0, 30.0)


def test_boxes_past_the_edge_are_clamped_and_small_frames_searched_as_they_are():
    detector = fake_detector([[90, 280, 200, 40, 50, *LANDMARKS]], min_face=0)
    (face,) = detector(np.zeros((240, 320, 3), np.uint8))
    assert detector._yuface.seen == (240, 320, 3)
    assert face.box == (277, 202, 320, 240)  # (277.5, 202.5, 322.5, 247.5) covered, clamped


def test_crop_follows_the_contract_for_a_yunet_box():
    yunet_box = (100.0, 100.0, 180.0, 200.0)
    face = Detection(tuple(int(v) for v in yunet_to_face(yunet_box)), 0.9, kind="face")
    frame_shape = (480, 640, 3)
    # The shipped models: face crops, margin 0 -> the face box itself.
    assert crop_box(face, ModelContract(crop_kind="face"), frame_shape) == (95, 105, 185, 195)
    # A reference (head) model: the head around that face.
    head = tuple(round(v) for v in face_to_head(face.box))
    assert crop_box(face, ModelContract(), frame_shape) == head


def test_missing_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "yuface", None)
    with pytest.raises(MediaError, match=r"yuface.*-m haar"):
        YuNetFaceDetector()
    with pytest.raises(MediaError, match="yuface"):
        load_detector("yunet")


def test_bad_threshold():
    pytest.importorskip("yuface")
    with pytest.raises(ValueError, match="got 1.5"):
        YuNetFaceDetector(score_threshold=1.5)


def test_thread_count_reaches_the_bundled_openmp():
    pytest.importorskip("yuface")
    detector = YuNetFaceDetector(threads=1)
    if detector._set_threads is None:
        pytest.skip("no bundled OpenMP runtime to find on this platform")
    assert detector(np.zeros((120, 160, 3), np.uint8)) == []


def test_names_and_paths(tmp_path):
    pytest.importorskip("yuface")
    assert isinstance(load_detector("yunet"), YuNetFaceDetector)
    assert load_detector("YuNet", score_threshold=0.55).score_threshold == 0.55
    with pytest.raises(FileNotFoundError, match="DEIMv2"):
        load_detector(tmp_path / "yunet.onnx")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return cv2.imread(str(Path(data.__file__).parent / "astronaut.png"), cv2.IMREAD_COLOR)


def test_finds_the_astronaut_and_frames_her_face_like_haar(astronaut):
    pytest.importorskip("yuface")
    detector = YuNetFaceDetector()
    (face,) = assert_detector_contract(detector, astronaut, "face")
    assert face.score >= 0.9
    assert iou(face.box, ASTRONAUT_FACE) >= 0.75
    x1, y1, x2, y2 = face.box
    assert all(x1 <= x < x2 and y1 <= y < y2 for x, y in face.landmarks)
    right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
    assert right_eye[1] < nose[1] < mouth_right[1] and right_eye[0] < left_eye[0]


def test_the_astronaut_passes_the_landmark_check(astronaut):
    pytest.importorskip("yuface")
    detector = YuNetFaceDetector(landmark_check=True)
    raw = detector.raw(astronaut)
    best = int(np.argmax(raw.scores))
    assert plausible_face(raw.landmarks[best], raw.boxes[best])
    (face,) = detector(astronaut)
    assert iou(face.box, ASTRONAUT_FACE) >= 0.75
    # Tilted by 25 degrees (people tilt their heads about as far), she still passes.
    h, w = astronaut.shape[:2]
    turn = cv2.getRotationMatrix2D(((177 + 272) / 2, (66 + 161) / 2), 25, 1.0)
    (tilted,) = detector(cv2.warpAffine(astronaut, turn, (w, h)))
    assert tilted.score >= 0.5


def test_a_frame_wider_than_the_working_width_maps_back(astronaut):
    pytest.importorskip("yuface")
    frame = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)[128:896]
    truth = tuple(v * 2 for v in ASTRONAUT_FACE)
    truth = (truth[0], truth[1] - 128, truth[2], truth[3] - 128)
    (face,) = YuNetFaceDetector(detect_width=320)(frame)
    assert iou(face.box, truth) >= 0.75


def test_base_install_declares_yuface_where_its_wheels_exist():
    """`pip install .` brings YuNet on CPython 3.11 on Linux and Windows x86-64 (its wheels) and
    never tries elsewhere, where the Haar cascade is the fallback."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (yuface,) = [Requirement(r) for r in project["dependencies"] if r.startswith("yuface")]
    assert yuface.marker is not None

    def env(python: str, system: str, machine: str) -> dict[str, str]:
        return {
            "python_version": python,
            "sys_platform": system,
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
        }

    assert yuface.marker.evaluate(env("3.11", "linux", "x86_64"))
    assert yuface.marker.evaluate(env("3.11", "win32", "AMD64"))
    assert not yuface.marker.evaluate(env("3.12", "linux", "x86_64"))
    assert not yuface.marker.evaluate(env("3.11", "linux", "aarch64"))
    assert not yuface.marker.evaluate(env("3.11", "darwin", "arm64"))
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("scikit-image") for r in dev["dev"])
