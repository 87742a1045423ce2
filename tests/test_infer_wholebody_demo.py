"""The demo with a fake DEIMv2 wholebody34 model: every flag and key of the whole-body rendering
acts on what is drawn and written (docs/wholebody.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import build_tiny_deimv2

from hsc_infer.demo import app
from hsc_infer.demo.wholebody.classes import BONE_COLOUR, CLASSES, POSE_COLOURS, RED
from hsc_infer.demo.wholebody.view import WholeBodyView

W, H = 640, 480


def _row(class_id: int, x1: int, y1: int, x2: int, y2: int, score: float = 0.9) -> list[float]:
    return [class_id, x1 / W, y1 / H, x2 / W, y2 / H, score]


ROWS = [
    _row(0, 40, 40, 340, 470),  # body
    _row(4, 40, 40, 340, 470),  # female
    _row(7, 140, 60, 240, 160),  # head
    _row(15, 140, 60, 240, 160),  # Left-Front
    _row(16, 160, 90, 220, 150),  # face
    _row(26, 400, 300, 460, 360),  # hand
    _row(28, 400, 300, 460, 360),  # right
    _row(21, 185, 195, 195, 205),  # collarbone at (190, 200)
    _row(22, 105, 215, 115, 225),  # shoulder at (110, 220)
]
BONE_MIDPOINT = (150, 210)  # between the collarbone and the shoulder
HEAD_LEFT_EDGE = (140, 130)
KEYPOINT_CENTRE, KEYPOINT_EDGE = (190, 200), (185, 200)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("wholebody")
    model = build_tiny_deimv2(root / "deimv2.onnx", np.array(ROWS))
    images = root / "images"
    images.mkdir()
    cv2.imwrite(str(images / "scene.png"), np.zeros((H, W, 3), np.uint8))
    return model, images


def _run(setup, tmp_path: Path, *flags: str) -> Path:
    model, images = setup
    argv = ["-i", str(images), "-m", str(model), "--headless", "--output-dir", str(tmp_path)]
    assert app.main([*argv, *flags]) == 0
    return tmp_path / "output"


def _pixel(path: Path, point: tuple[int, int]) -> tuple[int, int, int]:
    image = cv2.imread(str(path))
    return tuple(int(v) for v in image[point[1], point[0]])


def test_yolo_text_and_images(setup, tmp_path):
    out = _run(setup, tmp_path, "-oyt")
    assert sorted(p.name for p in out.iterdir()) == [
        "scene.png",
        "scene.txt",
        "scene_i.png",
        "scene_o.png",
    ]
    classes = [line.split()[0] for line in (out / "scene.txt").read_text().splitlines()]
    assert sorted(classes, key=int) == ["0", "4", "7", "15", "16", "21", "22", "26", "28"]
    raw = cv2.imread(str(out / "scene_i.png"))
    assert not raw.any()  # the input frame, untouched
    assert cv2.imread(str(out / "scene_o.png")).any()


def test_bones_only_with_ebm(setup, tmp_path):
    plain = _run(setup, tmp_path / "a") / "scene.png"
    bones = _run(setup, tmp_path / "b", "-ebm") / "scene.png"
    assert _pixel(plain, BONE_MIDPOINT) != BONE_COLOUR
    assert _pixel(bones, BONE_MIDPOINT) == BONE_COLOUR


def test_keypoint_drawing_modes(setup, tmp_path):
    dot = _run(setup, tmp_path / "dot") / "scene.png"
    box = _run(setup, tmp_path / "box", "-kdm", "box") / "scene.png"
    colour = CLASSES[21].colour
    assert _pixel(dot, KEYPOINT_CENTRE) == colour and _pixel(dot, KEYPOINT_EDGE) != colour
    assert _pixel(box, KEYPOINT_EDGE) == colour


def test_head_pose_colour_and_dhm(setup, tmp_path):
    posed = _run(setup, tmp_path / "a") / "scene.png"
    plain = _run(setup, tmp_path / "b", "-dhm") / "scene.png"
    assert _pixel(posed, HEAD_LEFT_EDGE) in (POSE_COLOURS[7], (0, 210, 0))  # smiling wins
    assert _pixel(plain, HEAD_LEFT_EDGE) in (RED, (0, 210, 0))


def test_hidden_classes_are_not_drawn_but_still_written(setup, tmp_path):
    out = _run(setup, tmp_path, "-drc", "26", "-oyt")
    hand_edge = (400, 330)
    assert _pixel(out / "scene.png", hand_edge) == (0, 0, 0)
    assert "26 " in (out / "scene.txt").read_text()


def test_a_face_detector_says_once_that_the_flags_cannot_act(setup, tmp_path, caplog):
    _, images = setup
    argv = ["-i", str(images), "-m", "haar", "--headless", "--output-dir", str(tmp_path)]
    with caplog.at_level(logging.INFO, logger="hsc_infer.demo"):
        assert app.main([*argv, "-ebm", "-kdm", "box", "-dhm"]) == 0
    lines = [r.message for r in caplog.records if "cannot act" in r.message]
    assert len(lines) == 1 and "-kdm -ebm -dhm" in lines[0]


def test_keys_toggle_the_same_parts():
    args = app.build_parser().parse_args(["-v", "0"])
    view = WholeBodyView(argparse.Namespace(**vars(args)))
    view.handle_key(ord("k"))
    assert view.draw_settings.keypoint_mode == "box"
    view.handle_key(ord("k"))
    view.handle_key(ord("k"))
    assert view.draw_settings.keypoint_mode == "dot"
    view.handle_key(ord("b"))
    assert view.draw_settings.draw_bones
    view.handle_key(ord("p"))
    assert "head_pose" not in view.parse_settings.merges
    assert "head_pose" not in view.draw_settings.styled
    view.handle_key(ord("n"))
    assert "generation" not in view.parse_settings.merges
    for key in "ghp":
        view.handle_key(ord(key))
    assert view.parse_settings.merges == frozenset({"head_pose"})


@pytest.mark.parametrize(
    ("flag", "attribute"),
    [("-dnm", "generation"), ("-dgm", "gender"), ("-dlr", "handedness"), ("-dhm", "head_pose")],
)
def test_each_disabling_flag_turns_its_merge_off(flag, attribute):
    args = app.build_parser().parse_args(["-v", "0", flag])
    view = WholeBodyView(args)
    assert attribute not in view.parse_settings.merges
    assert attribute not in view.draw_settings.styled
    others = WholeBodyView(app.build_parser().parse_args(["-v", "0"]))
    assert attribute in others.parse_settings.merges


def test_gender_colour_follows_dgm(setup, tmp_path):
    body_left_edge = (40, 300)
    female = _run(setup, tmp_path / "a") / "scene.png"
    plain = _run(setup, tmp_path / "b", "-dgm") / "scene.png"
    assert _pixel(female, body_left_edge) == (139, 116, 225)
    assert _pixel(plain, body_left_edge) == RED


@pytest.mark.parametrize(("flag", "gone"), [("-ast", {"4", "15", "28"}), ("-kst", {"21", "22"})])
def test_thresholds_gate_their_groups(setup, tmp_path, flag, gone):
    out = _run(setup, tmp_path, "-oyt", flag, "0.95")
    classes = {line.split()[0] for line in (out / "scene.txt").read_text().splitlines()}
    assert not classes & gone
    assert {"0", "7", "16", "26"} <= classes
