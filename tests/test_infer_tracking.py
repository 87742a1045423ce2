"""Greedy IoU tracker: id assignment, best pair first, threshold, expiry."""

from __future__ import annotations

from hsc_infer.demo.tracking import IouTracker
from hsc_infer.detectors.base import iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150


def test_ids_from_one_in_detection_order():
    tracker = IouTracker()
    assert tracker.update([(0, 0, 10, 10), (100, 100, 120, 120)]) == [1, 2]
    # Same heads, listed the other way round and moved a little.
    assert tracker.update([(101, 100, 121, 120), (1, 0, 11, 10)]) == [2, 1]
    assert tracker.update([(300, 300, 310, 310)]) == [3]


def test_matched_track_takes_detection_box():
    tracker = IouTracker()
    tracker.update([(0, 0, 10, 10)])
    tracker.update([(2, 0, 12, 10)])
    assert tracker.tracks[0].box == (2, 0, 12, 10)


def test_best_pair_first():
    tracker = IouTracker()
    tracker.update([(0, 0, 10, 10)])
    # Both overlap track 1; the better one (IoU 0.82) wins, the other opens track 2.
    assert tracker.update([(4, 0, 14, 10), (1, 0, 11, 10)]) == [2, 1]


def test_threshold_is_strict():
    tracker = IouTracker(iou_threshold=0.3)
    tracker.update([(0, 0, 130, 10)])
    # Overlap 60 of union 200: IoU exactly 0.3 -> not a match.
    assert tracker.update([(70, 0, 200, 10)]) == [2]


def test_track_dropped_after_thirty_unmatched_frames():
    tracker = IouTracker()
    tracker.update([(0, 0, 10, 10)])
    for _ in range(30):
        tracker.update([])
    assert tracker.active_ids == {1}  # 30 frames unmatched: still alive
    assert tracker.update([(0, 0, 10, 10)]) == [1]  # and can be matched again
    for _ in range(31):
        tracker.update([])
    assert tracker.active_ids == set()  # the 31st unmatched frame drops it
    assert tracker.update([(0, 0, 10, 10)]) == [2]


def test_reset():
    tracker = IouTracker()
    tracker.update([(0, 0, 10, 10)])
    tracker.reset()
    assert tracker.update([(0, 0, 10, 10)]) == [1]
