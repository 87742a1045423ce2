"""Faces pasted into colour frames and found again: the check of detector + contract + model
(`benchmarks.face_path.frames`, which `benchmarks.face_path.check_crops` runs on the shipped
models)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_tiny_classifier

from benchmarks.face_path.frames import check_pasted_faces, f1_score, paste_face_in_frame
from hsc_infer import ModelContract, SmileClassifier
from hsc_infer.detectors import Detection, HaarFaceDetector


def test_f1_score():
    yes, no = np.array([True, True, False]), np.array([True, False, False])
    assert f1_score(yes, no) == pytest.approx(2 / 3)
    assert f1_score(np.zeros(3, bool), np.zeros(3, bool)) == 0.0


def test_paste_face_in_frame_puts_a_tinted_face_at_the_box():
    face = np.full((48, 48), 200, np.uint8)
    frame, (x1, y1, x2, y2) = paste_face_in_frame(face, np.random.default_rng(3))
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480 and x2 - x1 == y2 - y1
    inside = frame[y1:y2, x1:x2].reshape(-1, 3)
    assert np.all(inside == inside[0]), "a uniform face stays uniform after tinting"
    assert inside[0][2] >= inside[0][1] >= inside[0][0], "skin tones are red-heavy in BGR"


class ReplayDetector:
    """Returns the boxes `paste_face_in_frame` used, in order: a perfect detector."""

    def __init__(self, faces, seed):
        rng = np.random.default_rng(seed)
        self.boxes = [paste_face_in_frame(face, rng)[1] for face in faces]

    def __call__(self, frame):
        return [Detection(box=self.boxes.pop(0), score=1.0, kind="face")]


def test_check_pasted_faces_with_a_perfect_and_a_blind_detector(tmp_path):
    # The tiny model says "smiling" for bright crops: bright faces are the smiling ones.
    contract = ModelContract(input_size=(48, 48), crop_kind="face")
    clf = SmileClassifier(build_tiny_classifier(tmp_path / "m.onnx", contract=contract))
    faces = [np.full((48, 48, 3), v, np.uint8) for v in (250, 10, 240, 5, 20)]
    labels = np.array([True, False, True, False, False])

    result = check_pasted_faces(clf, ReplayDetector(faces, 7), faces, labels, seed=7)
    assert result.found == 5 and result.box_scale == 1.0
    assert result.f1_direct == 1.0 and result.f1_path == {0.0: 1.0}
    assert result.f1_direct_found == 1.0 and result.f1_path_found == {0.0: 1.0}

    blind = check_pasted_faces(clf, lambda frame: [], faces, labels, seed=7, margins=[0.0, 0.2])
    assert blind.found == 0 and blind.found_rate == 0.0
    assert blind.f1_direct == 1.0 and blind.f1_path == {0.0: 0.0, 0.2: 0.0}


@pytest.mark.shared
@pytest.mark.slow
def test_default_model_through_haar_on_pasted_ferplus_faces(ferplus_test_faces):
    faces, labels = ferplus_test_faces
    result = check_pasted_faces(SmileClassifier(), HaarFaceDetector(), faces[:200], labels[:200])
    # FER crops are tight and often tilted, so the frontal cascade finds about half of them;
    # the ones it finds must be cropped as in training: same box size, F1 close to direct.
    assert result.found_rate >= 0.4
    assert 0.85 <= result.box_scale <= 1.15
    assert result.f1_path_found[0.0] >= result.f1_direct_found - 0.1


@pytest.mark.shared
def test_check_face_path_reads_the_same_faces_as_the_tests(ferplus_test_faces):
    from benchmarks.face_path.frames import leak_free_test_faces
    from conftest import FERPLUS

    faces, labels = leak_free_test_faces(FERPLUS)
    assert len(faces) == len(ferplus_test_faces[0]) == 2904
    assert faces[0].dtype == np.uint8 and faces[0].shape == (48, 48, 3)
    assert all(np.array_equal(a, b) for a, b in zip(faces, ferplus_test_faces[0], strict=True))
    np.testing.assert_array_equal(labels, ferplus_test_faces[1])
