"""The landmark layout check (hsc_infer.detectors.landmarks): faces in any plausible pose pass,
layouts no face has fail."""

from __future__ import annotations

import math

import pytest

from hsc_infer.detectors.landmarks import face_layout, plausible_face

# A YuNet box (hairline to below the chin, 1.25x taller than wide) and a frontal face in it:
# right eye, left eye, nose tip, right and left mouth corner.
BOX = (0.0, 0.0, 100.0, 125.0)
FRONTAL = ((32.0, 50.0), (68.0, 50.0), (50.0, 70.0), (36.0, 92.0), (64.0, 92.0))
# Turned about 45 degrees to one side: the eyes and the mouth closer together, the nose out
# towards the cheek.
THREE_QUARTER = ((40.0, 50.0), (64.0, 50.0), (66.0, 70.0), (44.0, 92.0), (62.0, 92.0))
# A near-profile as FERPlus holds some: the eyes almost on top of each other.
NEAR_PROFILE = ((60.0, 50.0), (70.0, 52.0), (78.0, 72.0), (62.0, 94.0), (68.0, 94.0))


def rotated(points, degrees: float, centre=(50.0, 62.5)):
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = centre
    return tuple(
        (cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos)
        for x, y in points
    )


def test_the_frontal_layout_measures_as_drawn():
    layout = face_layout(FRONTAL, BOX)
    assert layout.roll_degrees == pytest.approx(0.0)
    assert layout.mouth_tilt_degrees == pytest.approx(0.0)
    assert layout.eye_mouth_drop == pytest.approx(42 / 125)
    assert layout.nose_position == pytest.approx(20 / 42)
    assert layout.mouth_per_eyes == pytest.approx(28 / 36)
    assert layout.eyes_per_width == pytest.approx(0.36)
    assert layout.outside_box == 0.0


@pytest.mark.parametrize("degrees", [-30, -15, 0, 15, 30])
def test_faces_in_plausible_poses_pass(degrees):
    for face in (FRONTAL, THREE_QUARTER, NEAR_PROFILE):
        assert plausible_face(rotated(face, degrees), BOX)


def test_a_tilted_face_is_measured_in_its_own_frame():
    upright, tilted = face_layout(FRONTAL, BOX), face_layout(rotated(FRONTAL, 30), BOX)
    assert tilted.roll_degrees == pytest.approx(30.0)
    assert tilted.eye_mouth_drop == pytest.approx(upright.eye_mouth_drop)
    assert tilted.nose_position == pytest.approx(upright.nose_position)


def test_eyes_below_the_mouth_fail():
    (re, le, nose, rm, lm) = FRONTAL
    flipped = ((re[0], rm[1]), (le[0], lm[1]), nose, (rm[0], re[1]), (lm[0], le[1]))
    assert face_layout(flipped, BOX).eye_mouth_drop < 0
    assert not plausible_face(flipped, BOX)


def test_landmarks_on_a_line_fail_like_a_line_of_text():
    line = ((10.0, 60.0), (30.0, 60.0), (50.0, 61.0), (70.0, 60.0), (90.0, 60.0))
    assert not plausible_face(line, BOX)
    assert not plausible_face(rotated(line, 10), BOX)


def test_landmarks_far_outside_the_box_fail():
    shifted = tuple((x + 150.0, y) for x, y in FRONTAL)
    assert face_layout(shifted, BOX).outside_box > 1
    assert not plausible_face(shifted, BOX)
    # 8 % of the box past its edge still passes (true faces on the benchmark: up to 3 %).
    assert plausible_face(tuple((x + 40.0, y) for x, y in FRONTAL), BOX)


def test_sideways_and_upside_down_layouts_fail():
    assert not plausible_face(rotated(FRONTAL, 90), BOX)
    assert not plausible_face(rotated(FRONTAL, 180), BOX)


def test_a_mouth_twisted_against_the_eyes_fails():
    (re, le, nose, rm, lm) = FRONTAL
    twisted = (re, le, nose, (rm[0], 80.0), (lm[0], 104.0))  # 40 degrees against the eye line
    assert not plausible_face(twisted, BOX)


def test_degenerate_input_fails_without_an_error():
    same_eye = ((50.0, 50.0), (50.0, 50.0), (50.0, 70.0), (40.0, 92.0), (60.0, 92.0))
    assert face_layout(same_eye, BOX) is None
    assert not plausible_face(same_eye, BOX)
    assert not plausible_face(FRONTAL, (10.0, 10.0, 10.0, 60.0))
