"""wholebody34 parsing, attributes, keypoints, bones, drawing and YOLO text (demo-wholebody.md),
with the reference's oddities fixed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hsc_infer.demo.wholebody.bones import bones
from hsc_infer.demo.wholebody.classes import (
    BONE_COLOUR,
    CLASSES,
    GENDER_COLOURS,
    POSE_COLOURS,
    SMILING,
    UNKNOWN_POSE,
)
from hsc_infer.demo.wholebody.draw import (
    DrawSettings,
    draw_wholebody,
    head_distance_m,
    label_of,
    style_of,
)
from hsc_infer.demo.wholebody.parse import WholeBodySettings, gate_rows, parse_wholebody
from hsc_infer.demo.wholebody.yolo import yolo_text

W, H = 640, 480


def row(class_id: int, x1: int, y1: int, x2: int, y2: int, score: float = 0.9) -> list[float]:
    """A detector row from pixel corners."""
    return [class_id, x1 / W, y1 / H, x2 / W, y2 / H, score]


def parse(rows: list[list[float]], **settings) -> object:
    return parse_wholebody(np.array(rows), (H, W, 3), WholeBodySettings(**settings))


def classes(parsed) -> list[int]:
    return [o.class_id for o in parsed.objects]


@dataclass
class Smile:
    prob: float
    label: str = ""
    track_id: int | None = None


# --- gating ----------------------------------------------------------------------------------


def test_each_group_has_its_own_threshold_and_ties_pass():
    rows = [
        row(0, 10, 10, 100, 300, 0.35),  # object at -ost exactly: kept
        row(3, 10, 10, 100, 300, 0.69),  # attribute below -ast: dropped
        row(21, 50, 50, 56, 56, 0.30),  # keypoint at -kst exactly: kept
        row(27, 10, 10, 30, 30, 0.5),  # left hand is an attribute: below -ast, dropped
        row(40, 10, 10, 30, 30, 0.99),  # no such class
    ]
    objects = gate_rows(np.array(rows), (H, W, 3), WholeBodySettings())
    assert [o.class_id for o in objects] == [0, 21]


def test_boxes_are_clamped_to_the_frame_and_truncated_to_pixels():
    objects = gate_rows(np.array([[7, -0.1, 0.5, 1.2, 0.75, 0.9]]), (H, W, 3), WholeBodySettings())
    assert objects[0].box == (0, 240, 640, 360)
    assert objects[0].normalised == (0.0, 0.5, 1.0, 0.75)


# --- attributes ------------------------------------------------------------------------------


def test_attributes_attach_to_their_base_and_leave_the_list():
    parsed = parse(
        [
            row(0, 100, 100, 300, 460),
            row(2, 102, 100, 300, 458, 0.8),  # child
            row(4, 100, 104, 298, 460, 0.9),  # female
            row(7, 150, 100, 250, 200),
            row(15, 150, 100, 250, 200, 0.9),  # Left-Front
            row(26, 310, 300, 350, 340),
            row(28, 310, 300, 350, 340, 0.9),  # right hand, at -ast
        ]
    )
    assert classes(parsed) == [0, 7, 26]
    body, head, hand = parsed.objects
    assert (body.generation, body.gender) == (1, 1)
    assert head.head_pose == 7
    assert hand.handedness == 1
    assert sorted(a.class_id for a in parsed.attributes) == [2, 4, 15, 28]


def test_attribute_matching_does_not_depend_on_the_detectors_order():
    # Two overlapping heads and two poses; each pose fits one head best.
    rows = [
        row(7, 100, 100, 200, 200),
        row(7, 120, 100, 220, 200),
        row(8, 121, 100, 221, 200, 0.95),  # Front: the second head's box
        row(14, 100, 100, 200, 200, 0.75),  # Left-Side: the first head's box
    ]
    forward = parse(rows)
    backward = parse(rows[:2] + rows[2:][::-1])
    assert [o.head_pose for o in forward.objects] == [6, 0]
    assert [o.head_pose for o in backward.objects] == [6, 0]


def test_the_centre_limit_scales_with_the_base_box():
    # A large body whose attribute box is 20 px off centre: the reference's absolute 10 px
    # limit lost it; a quarter of the diagonal keeps it.
    parsed = parse([row(0, 0, 0, 400, 470), row(3, 20, 10, 440, 470, 0.9)])
    assert parsed.objects[0].gender == 0
    far = parse([row(0, 0, 0, 100, 100), row(3, 60, 60, 200, 200, 0.9)])
    assert far.objects[0].gender == -1


def test_a_merge_switched_off_leaves_the_value_unknown_and_still_removes_its_boxes():
    parsed = parse(
        [row(0, 100, 100, 300, 460), row(3, 100, 100, 300, 460)],
        merges=frozenset({"generation", "head_pose", "handedness"}),
    )
    assert classes(parsed) == [0]
    assert parsed.objects[0].gender == -1


# --- keypoints and bones ---------------------------------------------------------------------


def test_keypoints_are_thinned_per_class_and_listed_after_the_objects():
    parsed = parse(
        [
            row(22, 100, 100, 110, 110, 0.5),
            row(21, 200, 200, 210, 210, 0.6),
            row(22, 101, 101, 111, 111, 0.9),  # overlaps the first shoulder: wins
            row(22, 300, 300, 310, 310, 0.4),
            row(7, 0, 0, 50, 50),
        ]
    )
    assert classes(parsed) == [7, 21, 22, 22]
    assert [o.score for o in parsed.objects[2:]] == [0.9, 0.4]


def _skeleton(offset: int = 0) -> list[list[float]]:
    x = offset
    return [
        row(0, x + 0, 0, x + 300, 479),
        row(21, x + 145, 95, x + 155, 105),  # collarbone at (150, 100)
        row(22, x + 95, 105, x + 105, 115),  # shoulders
        row(22, x + 195, 105, x + 205, 115),
        row(23, x + 145, 145, x + 155, 155),  # solar plexus
        row(24, x + 85, 175, x + 95, 185),  # elbow under the left shoulder
    ]


def test_bones_follow_each_edges_capacity():
    parsed = parse(_skeleton())
    lines = bones(list(parsed.objects))
    assert ((150, 100), (100, 110)) in lines and ((150, 100), (200, 110)) in lines
    assert ((150, 100), (150, 150)) in lines
    assert ((100, 110), (90, 180)) in lines  # the nearer shoulder takes the one elbow
    assert len(lines) == 4


def test_keypoints_outside_every_body_are_not_joined():
    rows = [r for r in _skeleton() if r[0] != 0]  # no body box at all
    assert bones(list(parse(rows).objects)) == []


def test_keypoints_of_two_bodies_are_never_joined_across():
    parsed = parse(_skeleton(0) + _skeleton(320))
    lines = bones(list(parsed.objects))
    assert len(lines) == 8
    assert all((a[0] < 310) == (b[0] < 310) for a, b in lines)


# --- drawing ---------------------------------------------------------------------------------


def _canvas() -> np.ndarray:
    return np.zeros((H, W, 3), np.uint8)


def _pixel(canvas: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in canvas[y, x])


def test_each_class_is_drawn_in_its_colour_and_hidden_classes_are_not():
    parsed = parse([row(18, 100, 100, 140, 140), row(33, 300, 300, 360, 360)])
    canvas = draw_wholebody(_canvas(), parsed, DrawSettings(hidden_classes=frozenset({33})))
    assert _pixel(canvas, 120, 100) == CLASSES[18].colour  # nose: solid, colour on the edge
    assert not canvas[290:370, 290:370].any()  # foot hidden


def test_body_colour_and_dash_follow_gender_and_its_mode():
    parsed = parse([row(0, 100, 100, 300, 460), row(4, 100, 100, 300, 460)])
    body = parsed.objects[0]
    assert style_of(body, DrawSettings(), None) == (GENDER_COLOURS[1], False)
    unknown = parse([row(0, 100, 100, 300, 460)]).objects[0]
    assert style_of(unknown, DrawSettings(), None)[1] is True
    assert style_of(unknown, DrawSettings(styled=set()), None)[1] is False


def test_head_colour_is_the_pose_in_bgr_unknown_is_neutral_and_smiling_wins():
    head = parse([row(7, 100, 100, 200, 200), row(8, 100, 100, 200, 200)]).objects[0]
    assert style_of(head, DrawSettings(), None) == (POSE_COLOURS[0], False)
    assert POSE_COLOURS[0] == (21, 67, 216)  # Material deep orange, as BGR
    bare = parse([row(7, 100, 100, 200, 200)]).objects[0]
    assert style_of(bare, DrawSettings(), None) == (UNKNOWN_POSE, True)
    assert style_of(bare, DrawSettings(), Smile(0.9, "Smiling"))[0] == SMILING


def test_labels_show_attributes_with_the_smile():
    body = parse(
        [row(0, 100, 100, 300, 460), row(1, 100, 100, 300, 460), row(4, 100, 100, 300, 460)]
    ).objects[0]
    assert label_of(body, DrawSettings(), None) == "Adult(F)"
    head = parse([row(7, 100, 100, 200, 200), row(15, 100, 100, 200, 200)]).objects[0]
    assert label_of(head, DrawSettings(), Smile(0.91234, "Smiling")) == (
        "Left-Front !! Smiling !! 0.912"
    )
    hand = parse([row(26, 10, 10, 60, 60), row(27, 10, 10, 60, 60)]).objects[0]
    assert label_of(hand, DrawSettings(), None) == "L"


def test_every_head_gets_a_distance_from_its_own_width():
    parsed = parse([row(7, 100, 100, 228, 260)])  # no smile result at all
    on = draw_wholebody(_canvas(), parsed, DrawSettings())
    off = draw_wholebody(_canvas(), parsed, DrawSettings(show_distance=False))
    assert not np.array_equal(on, off)
    assert head_distance_m(128, W, 90) == pytest.approx(0.26 * 320 / 128)


@pytest.mark.parametrize("mode", ["dot", "box", "both"])
def test_keypoint_modes(mode):
    parsed = parse([row(24, 100, 100, 120, 120)])
    canvas = draw_wholebody(_canvas(), parsed, DrawSettings(keypoint_mode=mode))
    centre, edge = _pixel(canvas, 110, 110), _pixel(canvas, 100, 110)
    assert (centre == CLASSES[24].colour) == (mode != "box")
    assert (edge == CLASSES[24].colour) == (mode != "dot")


def test_bones_are_drawn_only_when_asked_and_never_from_hidden_keypoints():
    parsed = parse(_skeleton())
    midpoint = (125, 105)  # between the collarbone and the left shoulder
    with_bones = draw_wholebody(_canvas(), parsed, DrawSettings(draw_bones=True))
    assert _pixel(with_bones, *midpoint) == BONE_COLOUR
    plain = draw_wholebody(_canvas(), parsed, DrawSettings())
    assert _pixel(plain, *midpoint) != BONE_COLOUR
    hidden = draw_wholebody(
        _canvas(), parsed, DrawSettings(draw_bones=True, hidden_classes=frozenset({22}))
    )
    assert _pixel(hidden, *midpoint) != BONE_COLOUR


def test_the_mosaic_covers_hidden_faces_and_survives_empty_boxes():
    frame = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    parsed = parse([row(16, 100, 100, 160, 160), row(16, 300, 300, 300, 340)])
    canvas = draw_wholebody(
        frame.copy(), parsed, DrawSettings(face_mosaic=True, hidden_classes=frozenset({16}))
    )
    inside = canvas[110:150, 110:150].astype(float)
    assert inside.std() < frame[110:150, 110:150].std() / 3  # smoothed, not the raw noise


def test_dashed_boxes_keep_the_line_width_and_short_sides():
    head = parse([row(7, 100, 100, 108, 160)])  # an 8 px wide head: top side shorter than 10
    thick = draw_wholebody(_canvas(), head, DrawSettings(line_width=4, show_distance=False))
    assert (thick[100, 100:108] > 0).any()  # the short top side is drawn
    thin = draw_wholebody(_canvas(), head, DrawSettings(line_width=2, show_distance=False))
    assert (thick > 0).sum() > (thin > 0).sum()


# --- YOLO text ------------------------------------------------------------------------------


def test_yolo_text_holds_every_gated_box_in_normalised_floats():
    parsed = parse([row(0, 100, 100, 301, 460), row(4, 100, 100, 301, 460), row(21, 5, 5, 9, 9)])
    lines = yolo_text(parsed).splitlines()
    assert [line.split()[0] for line in lines] == ["0", "21", "4"]
    cls, cx, cy, w, h = lines[0].split()
    assert float(cx) == pytest.approx((100 + 301) / 2 / W, abs=1e-6)
    assert float(w) == pytest.approx(201 / W, abs=1e-6)
    assert yolo_text(parse([])) == ""
