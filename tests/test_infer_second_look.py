"""The second look at unsure YuNet candidates (hsc_infer/detectors/second_look.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hsc_infer.detectors import YuNetFaceDetector
from hsc_infer.detectors.base import iou
from hsc_infer.detectors.second_look import SecondLook
from hsc_infer.detectors.yunet import YuNetOutput

NO_LANDMARKS = np.zeros((0, 5, 2))


def output(scores, boxes) -> YuNetOutput:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return YuNetOutput(np.asarray(scores, np.float64), boxes, np.zeros((len(boxes), 5, 2)))


class PatchSearch:
    """A stand-in for YuNet on the patch: reports fixed boxes (patch pixels), records calls."""

    def __init__(self, scores, boxes) -> None:
        self.found = output(scores, boxes)
        self.patches: list[tuple[int, ...]] = []

    def __call__(self, patch: np.ndarray) -> YuNetOutput:
        self.patches.append(patch.shape)
        return self.found


def test_a_closer_detection_on_the_same_spot_gives_its_score():
    look = SecondLook(context=2.0, patch=100)
    box = np.array([100.0, 100.0, 150.0, 150.0])  # 50 px: the patch spans 50-200 at 100/150 scale
    # In the patch the candidate lies at (25, 25)-(75, 75); a detection there confirms it.
    search = PatchSearch([0.8, 0.95], [[25, 25, 75, 75], [0, 0, 20, 20]])
    frame = np.zeros((480, 640, 3), np.uint8)
    assert look.look(frame, box, search) == pytest.approx(0.8)
    assert search.patches == [(100, 100, 3)]
    elsewhere = PatchSearch([0.95], [[60, 60, 100, 100]])
    assert look.look(frame, box, elsewhere) == 0.0
    assert look.look(frame, box, PatchSearch([], [])) == 0.0


def test_only_unsure_candidates_are_looked_at_again():
    look = SecondLook(floor=0.3, sure=0.7, context=2.0, patch=100)
    found = output([0.9, 0.5, 0.2, 0.6], [[100, 100, 150, 150]] * 4)
    search = PatchSearch([0.55], [[25, 25, 75, 75]])
    rescored = look.rescore(np.zeros((480, 640, 3), np.uint8), found, search)
    assert rescored.scores.tolist() == pytest.approx([0.9, 0.55, 0.2, 0.55])
    assert len(search.patches) == 2
    assert found.scores.tolist() == [0.9, 0.5, 0.2, 0.6]  # the first pass's output is untouched


def test_the_patch_holds_the_candidate_with_replicated_borders():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[40:60, 40:60] = 255
    seen = []

    def search(patch):
        seen.append(patch)
        return output([], [])

    SecondLook(context=2.0, patch=80).look(frame, np.array([40.0, 40.0, 60.0, 60.0]), search)
    (patch,) = seen
    # The patch spans frame pixels 30-70 at 2x: the square fills patch pixels 20-60.
    assert patch[22:58, 22:58].min() == 255 and patch[:18].max() == 0
    # A candidate at the corner: the patch reaches past the frame and repeats its edge.
    frame[:20, :20] = 255
    SecondLook(context=2.0, patch=80).look(frame, np.array([0.0, 0.0, 20.0, 20.0]), search)
    assert seen[-1].shape == (80, 80, 3) and seen[-1][:18, :18].min() == 255


@pytest.mark.parametrize(
    "settings",
    [{"floor": 0.8, "sure": 0.7}, {"sure": 1.5}, {"context": 0.5}, {"patch": 8}],
)
def test_bad_settings(settings):
    with pytest.raises(ValueError, match="second look"):
        SecondLook(**settings)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data as data

    return cv2.imread(str(Path(data.__file__).parent / "astronaut.png"), cv2.IMREAD_COLOR)


def test_yunet_looks_again_at_a_real_face_and_at_a_texture(astronaut):
    detector = YuNetFaceDetector(second_look=None)
    raw = detector.raw(astronaut)
    best = int(np.argmax(raw.scores))
    look = SecondLook()
    assert look.look(astronaut, raw.boxes[best], detector.search) >= 0.7
    # The same box over a photograph of bricks: nothing face-like on the same spot.
    from skimage import data as data

    brick = cv2.imread(str(Path(data.__file__).parent / "brick.png"), cv2.IMREAD_COLOR)
    brick = cv2.resize(
        cv2.cvtColor(brick, cv2.COLOR_GRAY2BGR) if brick.ndim == 2 else brick, (512, 512)
    )
    assert look.look(brick, raw.boxes[best], detector.search) < 0.5


def test_the_default_detector_keeps_her_face_with_the_second_look(astronaut):
    plain = YuNetFaceDetector(second_look=None)(astronaut)
    looked = YuNetFaceDetector(second_look=SecondLook())(astronaut)
    assert [d.box for d in looked] == [d.box for d in plain]
    (face,) = looked
    assert iou(face.box, (177, 66, 272, 161)) >= 0.75
