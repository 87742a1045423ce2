"""Sticky long/short-history smoothing, replayed on known sequences (N = 10, M = 6)."""

from __future__ import annotations

import pytest

from hsc_infer.demo.smoothing import StateHistory, TrackSmoother

F, T = False, True


def replay(states, long_size=10, short_size=6):
    history = StateHistory(long_size, short_size)
    return [history.update(s) for s in states]


def test_false_until_both_buffers_full():
    # Smiling from the first frame: the long buffer fills at frame 10, and only then can it start.
    assert replay([T] * 12) == [F] * 9 + [T] * 3


def test_established_track_turns_on_at_fifth_smiling_frame():
    out = replay([F] * 10 + [T] * 6)
    assert out[:14] == [F] * 14
    assert out[14] is True  # the 5th consecutive smiling frame
    assert out[15] is True


def test_sticky_between_start_and_end():
    # On after 5 smiles; a mixed stretch keeps it on (neither start nor end holds).
    out = replay([F] * 10 + [T] * 5 + [F, T, F, T, F, T])
    assert out[14] is True
    assert all(out[14:])


def test_end_rule_uses_less_or_equal():
    # After a short smile the long sum drops past N // 2 while the short sum is still above 1,
    # then the short sum falls: a `== N // 2` end rule would leave the label on forever.
    seq = [F] * 10 + [T] * 5 + [F, F, F, F, T, T, F, F] + [F] * 15
    out = replay(seq)
    assert out[14] is True
    assert out[-1] is False
    # Frame 18 is the only one with long sum == 5, and its short sum is 2: no end there.
    # Frame 25: long sum 2 <= 5 and short sum 1 <= 1, so the label goes off.
    assert out.index(False, 15) == 25


def test_end_after_long_smile():
    out = replay([F] * 10 + [T] * 10 + [F] * 6)
    assert out[19] is True
    assert out[20:25] == [T] * 4 + [F]  # off when the short sum reaches 1 (long sum 5)


def test_history_sizes_validated():
    with pytest.raises(ValueError, match=">= 2"):
        StateHistory(1, 6)


def test_track_smoother_unmatched_appends_false_and_forgets_dead_tracks():
    smoother = TrackSmoother()
    for _ in range(10):
        smoother.update({1: False}, {1})
    for _ in range(4):
        assert smoother.update({1: True}, {1}) == {1: False}
    assert smoother.update({1: True}, {1}) == {1: True}
    # Alive but unmatched: appends False (still on: sticky).
    assert smoother.update({}, {1}) == {1: True}
    assert list(smoother.histories[1].short)[-1] is False
    # Track gone: its history goes with it; a new track starts empty.
    assert smoother.update({2: True}, {2}) == {2: False}
    assert set(smoother.histories) == {2}
