"""The demo's five defects of the face-path issue, each pinned by a test that failed before its
fix: head distance from face boxes, the -oyt class of face crops, stream URLs and -1 for -v,
--mirror, and -dtk keeping the smoothing."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import build_tiny_classifier, build_tiny_deimv2, write_synthetic_video

from hsc_infer import ModelContract
from hsc_infer.demo import app, capture, drawing
from hsc_infer.demo.output import yolo_lines
from hsc_infer.demo.pipeline import FrameResult, HeadResult, HeadSmilePipeline
from hsc_infer.detectors import Detection

HEAD_ROWS = [[7, 0.10, 0.25, 0.40, 0.75, 0.9]]  # one head, 96x120 px in a 320x240 frame


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("defect_models")
    return {
        "head": build_tiny_classifier(root / "head.onnx"),
        "face": build_tiny_classifier(root / "face.onnx", contract=ModelContract(crop_kind="face")),
        "deimv2": build_tiny_deimv2(root / "deimv2.onnx", np.array(HEAD_ROWS)),
    }


def drawn_texts(monkeypatch, head: HeadResult, width: int = 640) -> list[str]:
    texts: list[str] = []
    monkeypatch.setattr(drawing, "outlined_text", lambda image, text, *a, **k: texts.append(text))
    drawing.draw_head(np.zeros((480, width, 3), np.uint8), head, horizontal_fov=90)
    return texts


# 1. Head distance: a face box is about 1/1.6 of the head, so measuring it against the 0.26 m
# head width put every face 1.6x too far. At 640 px and 90 degrees, f = 320 px: a head 160 px
# wide is 0.26 * 320 / 160 = 0.52 m away, and so is the face 100 px wide inside it.
def test_distance_of_a_face_box_uses_the_head_it_implies(monkeypatch):
    face = Detection((100, 100, 200, 200), 1.0, kind="face")
    head = HeadResult(face, face.box, 0.9, True, None, "")  # a face-crop model: crop = face
    assert "0.52 m" in drawn_texts(monkeypatch, head)


def test_distance_of_a_head_box_cropped_to_a_face_uses_the_head(monkeypatch):
    detected = Detection((100, 100, 260, 260), 0.9, kind="head")
    face_crop = (130, 140, 230, 240)  # what a face-crop model classifies inside the head
    head = HeadResult(detected, face_crop, 0.9, True, None, "")
    assert "0.52 m" in drawn_texts(monkeypatch, head)


# 2. -oyt: a face crop cut from a DEIMv2 head box was written with the head's class (7).
def test_yolo_text_gives_face_crops_the_face_class():
    # A face detector's box classified as a face crop, and a face cut from a head box: both
    # are faces (16), not heads (7).
    face = HeadResult(Detection((100, 80, 164, 160), 0.9, "face"), (100, 80, 164, 160), 0.8,
                      True, 1, "", "face")  # fmt: skip
    cut = HeadResult(Detection((100, 60, 200, 200), 0.9, "head"), (110, 80, 190, 180), 0.8,
                     True, 2, "", "face")  # fmt: skip
    lines = yolo_lines(FrameResult((face, cut), 1.0, 1.0), (240, 320, 3))
    assert [line.split()[0] for line in lines] == ["16", "16"]
    cls, cx, cy, w, h = lines[1].split()
    assert (float(w), float(h)) == pytest.approx((80 / 320, 100 / 240), abs=1e-6)


def test_yolo_text_of_a_wholebody_detector_holds_its_own_boxes(models, tmp_path):
    video = write_synthetic_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out"
    argv = ["-v", str(video), "-hm", str(models["face"]), "-m", str(models["deimv2"])]
    assert app.main([*argv, "--headless", "-dvw", "-oyt", "--output-dir", str(out)]) == 0
    lines = (out / "output" / "00000001.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["7"]  # the detector's head, as a head


# 3. -v: OpenCV opens stream URLs and camera -1 (the first camera found); the demo refused both
# as missing video files.
class FakeCapture:
    opened: list = []

    def __init__(self, source):
        FakeCapture.opened.append(source)

    def isOpened(self):
        return True


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("-1", -1),
        ("0", 0),
        ("rtsp://192.0.2.1:554/stream1", "rtsp://192.0.2.1:554/stream1"),
        ("http://camera.local/video.mjpg", "http://camera.local/video.mjpg"),
    ],
)
def test_open_source_passes_cameras_and_streams_to_opencv(monkeypatch, source, expected):
    FakeCapture.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    capture.open_source(source)
    assert FakeCapture.opened == [expected]


def test_open_source_still_reports_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        capture.open_source(str(tmp_path / "absent.mp4"))


# 4. --mirror flips webcam frames left to right before anything sees them (the reference's
# webcam command had it).
def test_mirror_flips_frames_before_the_pipeline(models, tmp_path, monkeypatch):
    video = write_synthetic_video(tmp_path / "in.mp4", frames=3)
    seen = []
    original = HeadSmilePipeline.__call__

    def record(self, frame):
        seen.append(frame.copy())
        return original(self, frame)

    monkeypatch.setattr(HeadSmilePipeline, "__call__", record)
    argv = ["-v", str(video), "-hm", str(models["head"]), "-m", str(models["deimv2"])]
    assert app.main([*argv, "--headless", "-dvw", "--mirror", "--output-dir", str(tmp_path)]) == 0
    capture = cv2.VideoCapture(str(video))
    decoded = [capture.read()[1] for _ in range(3)]
    capture.release()
    assert len(seen) == 3
    for frame, original_frame in zip(seen, decoded, strict=True):
        np.testing.assert_array_equal(frame, original_frame[:, ::-1])


# 5. -dtk hides the track ids (as in the reference) but keeps tracking underneath, so labels
# are still smoothed: "Smiling" only once both histories are full (10 frames), not at once.
def test_disable_tracking_hides_ids_but_keeps_smoothing(models, tmp_path):
    frames = 12
    video = write_synthetic_video(tmp_path / "in.mp4", frames=frames)
    out = tmp_path / "out"
    argv = ["-v", str(video), "-hm", str(models["head"]), "-m", str(models["deimv2"])]
    argv += ["--headless", "-dvw", "-dtk", "--threshold", "0", "--output-dir", str(out)]
    assert app.main([*argv, "--confirm-hits", "1"]) == 0
    lines = [json.loads(x) for x in (out / "output.jsonl").read_text().splitlines()]
    heads = [line["heads"][0] for line in lines]
    assert all(h["smiling"] for h in heads)
    assert all(h["track_id"] is None for h in heads)  # hidden
    assert [h["label"] for h in heads] == [""] * 9 + ["Smiling"] * 3
