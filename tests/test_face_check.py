"""The face check lever (benchmarks/face_path/face_check.py) and the crops its data is built from
(benchmarks/face_path/face_check_data.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.face_path.face_check import FaceCheck, square_crop
from benchmarks.inference.stand_ins import build_tiny_classifier
from hsc_infer.detectors.yunet import YuNetOutput


def test_square_crop_cuts_the_box_and_repeats_the_edge():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[20:40, 20:40] = 200
    inside = square_crop(frame, (20, 20, 40, 40), side=10)
    assert inside.shape == (10, 10, 3) and inside.min() == 200
    # A box reaching past the left and top edges: the edge pixels are repeated, not black.
    frame[:, :5] = 90
    frame[:5, :] = 90
    corner = square_crop(frame, (-20, -20, 20, 20), side=8)
    assert corner[:3, :3].min() == 90


@pytest.fixture(scope="module")
def bright_is_a_face(tmp_path_factory) -> FaceCheck:
    # The stand-in's probability is sigmoid(8 * mean pixel - 4): bright crops pass at 0.5.
    path = build_tiny_classifier(tmp_path_factory.mktemp("check") / "check.onnx")
    return FaceCheck(path, threshold=0.5)


def test_face_probs_are_the_models_on_each_boxs_crop(bright_is_a_face):
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[:100] = 255
    bright, dark = (20, 10, 80, 70), (20, 120, 80, 180)
    probs = bright_is_a_face.face_probs(frame, [bright, dark])
    assert probs[0] >= bright_is_a_face.threshold > probs[1]
    assert bright_is_a_face.face_probs(frame, []).shape == (0,)


def test_the_training_crops_are_labelled_by_overlap():
    from benchmarks.face_path.face_check_data import crops_of_frame
    from benchmarks.face_path.frames import BenchFrame

    class Candidates:
        min_face = 32

        def raw(self, image):
            # YuNet boxes: on the face (its face box is the true box), half on it, far from it.
            boxes = np.array(
                [[100, 95, 200, 206.1], [150, 95, 250, 206.1], [400, 300, 480, 390]], np.float64
            )
            return YuNetOutput(np.array([0.9, 0.9, 0.6]), boxes, np.zeros((3, 5, 2)))

    frame = BenchFrame(np.zeros((480, 640, 3), np.uint8), ((100, 100, 200, 200),), (True,), (), "x")
    crops = crops_of_frame(frame, Candidates(), np.random.default_rng(0))
    labels = [label for _, label in crops]
    # The jittered true box and the candidate on it are faces; the half one is left out; the
    # far one and the random background boxes (up to 3) are not faces.
    assert labels[:3] == [1, 1, 0] and set(labels[3:]) <= {0} and len(labels) <= 6
    assert all(crop.shape == (48, 48, 3) for crop, _ in crops)
