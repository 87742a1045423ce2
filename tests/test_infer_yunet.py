"""The YuNet face detector (the shipped ONNX model on onnxruntime): its output in frame pixels,
its box convention mapped to the crop the contract asks for, its settings and their way into the
onnxruntime session, and its model file's errors. Decoding and the comparison with the C++
engine (`yuface`) are in test_yunet_port.py."""

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
from hsc_infer.detectors.yunet import SHIPPED_MODEL, YuNetOutput, yunet_to_face
from hsc_infer.errors import ContractError

ROOT = Path(__file__).resolve().parents[1]
# Her face in scikit-image's astronaut.png, as the Haar cascades and a FER crop frame it.
ASTRONAUT_FACE = (177, 66, 272, 161)


class FakeSearch:
    """`YuNetFaceDetector.search`'s interface, here fixed rows (score 0-100, XYWH box, 10
    landmark coordinates) in the searched image's pixels, whatever the image."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, np.float64).reshape(-1, 15)
        self.seen = None

    def __call__(self, image):
        self.seen = image.shape
        boxes = self.rows[:, 1:5].copy()
        boxes[:, 2:] += boxes[:, :2]
        return YuNetOutput(self.rows[:, 0] / 100, boxes, self.rows[:, 5:].reshape(-1, 5, 2))


def fake_detector(rows, **settings) -> YuNetFaceDetector:
    settings = {"score_threshold": 0.7, "detect_width": 320, "second_look": None} | settings
    detector = YuNetFaceDetector(**settings)
    detector.search = FakeSearch(rows)
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
    assert detector.search.seen == (240, 320, 3)  # searched at the working width
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
    assert detector.search.seen == (240, 320, 3)
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


def test_yunet_needs_no_yuface(monkeypatch):
    monkeypatch.setitem(sys.modules, "yuface", None)
    assert isinstance(load_detector("yunet"), YuNetFaceDetector)
    assert load_detector(None).kind == "face"


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"YuNet face model not found: .*none\.onnx"):
        YuNetFaceDetector(model_path=tmp_path / "none.onnx")


def test_a_damaged_model_file_is_named(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(SHIPPED_MODEL.read_bytes()[:5000])
    with pytest.raises(ContractError, match=r"could not load ONNX model .*broken\.onnx"):
        YuNetFaceDetector(model_path=broken)


def test_a_graph_that_returns_the_wrong_cells_is_named(monkeypatch):
    detector = YuNetFaceDetector()
    real_run = detector.session.run
    monkeypatch.setattr(
        detector.session, "run", lambda names, feed: [o[:, :-1] for o in real_run(names, feed)]
    )
    with pytest.raises(ContractError, match=rf"YuNet model {SHIPPED_MODEL}: .* cells"):
        detector.search(np.zeros((64, 64, 3), np.uint8))


def test_a_graph_without_the_yunet_contract_is_named(tmp_path):
    import onnx

    model = onnx.load(str(SHIPPED_MODEL))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ContractError, match=r"bare\.onnx has no yunet_contract metadata"):
        YuNetFaceDetector(model_path=bare)
    (producer,) = [n for n in model.graph.node if n.output[0] == model.graph.output[0].name]
    model.graph.output[0].name = producer.output[0] = "probabilities"
    other = tmp_path / "other.onnx"
    onnx.save(model, str(other))
    with pytest.raises(ContractError, match=r"other\.onnx is not a YuNet face graph"):
        YuNetFaceDetector(model_path=other)


def test_bad_settings():
    with pytest.raises(ValueError, match="got 1.5"):
        YuNetFaceDetector(score_threshold=1.5)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        YuNetFaceDetector(threads=0)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_reach_the_onnxruntime_session(threads):
    """`threads` is the session's intra-op thread count; a pool of more than one thread does
    not spin between runs."""
    options = YuNetFaceDetector(threads=threads).session.get_session_options()
    assert options.intra_op_num_threads == threads
    if threads > 1:
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_default_threads_are_onnxruntimes_and_do_not_spin(monkeypatch):
    import hsc_infer.detectors.yunet as yunet

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return create_session(*args, **kwargs)

    create_session = yunet.create_session
    monkeypatch.setattr(yunet, "create_session", spy)
    YuNetFaceDetector(threads=None)
    assert seen["intra_op_threads"] is None and seen["allow_spinning"] is False
    load_detector("yunet", threads=4)
    assert seen["intra_op_threads"] == 4


def test_search_batch_is_the_searches_of_its_images(astronaut):
    detector = YuNetFaceDetector()
    images = [cv2.resize(astronaut, (320, 320)), cv2.resize(astronaut[:, ::-1], (320, 320))]
    together = detector.search_batch(np.stack(images))
    for image, found in zip(images, together, strict=True):
        alone = detector.search(image)
        np.testing.assert_allclose(found.scores, alone.scores, atol=1e-5)
        np.testing.assert_allclose(found.boxes, alone.boxes, atol=1e-3)
    assert together[0].scores.max() >= 0.9 and detector.search_batch(np.stack(images)[:0]) == []
    with pytest.raises(ContractError, match="uint8"):
        detector.search_batch(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ContractError, match="same-sized"):
        detector.search_batch([images[0], images[0][:100]])
    assert detector.search_batch([]) == []


def test_names_and_paths(tmp_path):
    assert isinstance(load_detector("yunet"), YuNetFaceDetector)
    assert load_detector("YuNet", score_threshold=0.55).score_threshold == 0.55
    with pytest.raises(FileNotFoundError, match="DEIMv2"):
        load_detector(tmp_path / "yunet.onnx")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return cv2.imread(str(Path(data.__file__).parent / "astronaut.png"), cv2.IMREAD_COLOR)


def test_finds_the_astronaut_and_frames_her_face_like_haar(astronaut):
    detector = YuNetFaceDetector()
    (face,) = assert_detector_contract(detector, astronaut, "face")
    assert face.score >= 0.9
    assert iou(face.box, ASTRONAUT_FACE) >= 0.75
    x1, y1, x2, y2 = face.box
    assert all(x1 <= x < x2 and y1 <= y < y2 for x, y in face.landmarks)
    right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
    assert right_eye[1] < nose[1] < mouth_right[1] and right_eye[0] < left_eye[0]


def test_the_astronaut_passes_the_landmark_check(astronaut):
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
    frame = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)[128:896]
    truth = tuple(v * 2 for v in ASTRONAUT_FACE)
    truth = (truth[0], truth[1] - 128, truth[2], truth[3] - 128)
    (face,) = YuNetFaceDetector(detect_width=320)(frame)
    assert iou(face.box, truth) >= 0.75


def test_detect_batch_gives_each_frame_what_a_call_gives_it(astronaut):
    """Frames of two sizes, more than one run's worth of one of them: the same detections as
    one call per frame, second look included, in the order given."""
    detector = YuNetFaceDetector(detect_width=320)
    detector.batch_size = 2
    wide = cv2.resize(astronaut, (640, 480))
    frames = [astronaut, wide, np.roll(astronaut, 40, axis=1), wide[:, ::-1].copy(), astronaut]
    batched = detector.detect_batch(frames)
    assert batched == [detector(frame) for frame in frames]
    assert all(len(found) == 1 for found in batched)
    assert detector.detect_batch([]) == []


def test_only_the_dev_extra_declares_yuface_and_only_where_its_wheels_exist():
    """The base install needs no yuface; `make` brings it (the C++ engine the ONNX detector is
    compared with) on CPython 3.11 on Linux and Windows x86-64, and never tries elsewhere."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(Requirement(r).name == "yuface" for r in project["dependencies"])
    dev = project["optional-dependencies"]["dev"]
    (yuface,) = [Requirement(r) for r in dev if Requirement(r).name == "yuface"]
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
    assert any(r.startswith("scikit-image") for r in dev)
