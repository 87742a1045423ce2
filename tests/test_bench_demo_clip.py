"""The two-face clip that `python -m benchmarks.inference.demo --wall` times the demo on."""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks.inference.demo import two_face_clip


def test_two_faces_in_every_frame_inside_it_and_the_same_for_a_seed(tmp_path):
    faces = [np.random.default_rng(i).integers(0, 256, (48, 48, 3), np.uint8) for i in range(2)]
    labels = np.array([True, False])
    first = two_face_clip(tmp_path / "a.mp4", faces, labels, frames=12, seed=3)
    again = two_face_clip(tmp_path / "b.mp4", faces, labels, frames=12, seed=3)
    other = two_face_clip(tmp_path / "c.mp4", faces, labels, frames=12, seed=4)
    assert first == again and first != other
    assert len(first) == 12
    for truth in first:
        assert len(truth.boxes) == 2 and truth.smiling == (bool(labels[0]), bool(labels[1]))
        for x1, y1, x2, y2 in truth.boxes:
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480 and 100 <= x2 - x1 <= 160
    # The faces move.
    assert first[0].boxes != first[-1].boxes
    capture = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    capture.release()
