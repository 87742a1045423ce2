"""Greedy IoU tracker: id assignment, best pair first, threshold, expiry; confirmation and
keeping (what is shown)."""

from __future__ import annotations

import numpy as np
import pytest

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


# --- confirmation and keeping: what is shown -------------------------------------------------

FACE = (100, 100, 160, 160)
FALSE = (400, 50, 440, 90)


def shown(tracker: IouTracker, boxes) -> set[int]:
    """One frame: the ids on screen (confirmed detections, then kept tracks)."""
    ids = tracker.update(boxes)
    confirmed = tracker.confirmed_ids
    return {i for i in ids if i in confirmed} | {t.track_id for t in tracker.kept_tracks()}


def test_track_hidden_until_confirmed():
    tracker = IouTracker(confirm_hits=3, confirm_window=3)
    assert [shown(tracker, [FACE]) for _ in range(4)] == [set(), set(), {1}, {1}]


def test_one_frame_false_box_never_shows():
    tracker = IouTracker(confirm_hits=2)
    frames = [[FACE], [FACE, FALSE], [FACE], [FACE], [FACE, FALSE], [FACE], [FACE]]
    seen = [shown(tracker, boxes) for boxes in frames]
    assert seen == [set(), {1}, {1}, {1}, {1}, {1}, {1}]
    # Each false box opened a tentative track (2, then 3) that was dropped unconfirmed once
    # its window (3 runs) could no longer hold a second hit.
    assert tracker.active_ids == {1}


def test_confirmation_allows_the_slack_in_its_window():
    # Two hits within three runs: a miss between them still confirms (CONFIRM_SLACK 1).
    tracker = IouTracker(confirm_hits=2, confirm_window=3)
    assert [shown(tracker, b) for b in ([FACE], [], [FACE])] == [set(), set(), {1}]
    strict = IouTracker(confirm_hits=2, confirm_window=2)
    assert [shown(strict, b) for b in ([FACE], [], [FACE])] == [set(), set(), set()]
    assert strict.active_ids == {2}  # the miss dropped track 1; the face opened track 2


def test_confirmed_track_kept_for_missed_frames_then_hidden():
    tracker = IouTracker(confirm_hits=1, keep_missed=2)
    assert shown(tracker, [FACE]) == {1}
    assert [shown(tracker, []) for _ in range(3)] == [{1}, {1}, set()]
    assert tracker.kept_tracks() == [] and tracker.active_ids == {1}  # still tracked (max_missed)
    assert shown(tracker, [FACE]) == {1}  # found again: same id, shown at once


def test_kept_track_stays_at_its_last_box():
    tracker = IouTracker(keep_missed=4)
    tracker.update([FACE])
    tracker.update([(104, 100, 164, 160)])
    tracker.update([])
    (kept,) = tracker.kept_tracks()
    assert kept.box == (104, 100, 164, 160) and kept.missed == 1


def test_tentative_track_never_kept():
    tracker = IouTracker(confirm_hits=2, keep_missed=4)
    tracker.update([FACE])
    tracker.update([])
    assert tracker.kept_tracks() == []


def test_carried_boxes_do_not_confirm():
    # detect_every 2: a false box found once and carried to the next frame is one detector hit.
    tracker = IouTracker(confirm_hits=2, confirm_window=2)
    tracker.update([FALSE])
    tracker.update([FALSE], detected=False)
    assert tracker.confirmed_ids == set()
    tracker.update([])
    assert tracker.active_ids == set()
    tracker.update([FACE])
    tracker.update([FACE], detected=False)
    tracker.update([FACE])
    assert tracker.confirmed_ids == {2}


def test_default_settings_are_the_old_behaviour():
    # k=1, m=0: every box confirmed at once, none kept; ids as the matcher gives them.
    rng = np.random.default_rng(0)
    old, new = IouTracker(), IouTracker(confirm_hits=1, keep_missed=0)
    for _ in range(200):
        boxes = [FACE, FALSE, (300, 300, 380, 380)]
        boxes = [
            tuple(int(v) for v in np.add(b, rng.integers(-15, 16, 4)))
            for b in boxes
            if rng.random() < 0.7
        ]
        ids = old.update(boxes)
        assert new.update(boxes) == ids
        assert new.confirmed_ids == new.active_ids == old.active_ids
        assert new.kept_tracks() == []


def test_bad_settings():
    with pytest.raises(ValueError, match="confirm_hits"):
        IouTracker(confirm_hits=0)
    with pytest.raises(ValueError, match="keep_missed"):
        IouTracker(keep_missed=-1)
    with pytest.raises(ValueError, match="confirm_window"):
        IouTracker(confirm_hits=3, confirm_window=2)
