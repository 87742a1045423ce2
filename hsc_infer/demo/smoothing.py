"""Sticky smoothing of per-frame smile states over a long and a short history.

With N = long size and M = short size, once both buffers are full:
  start = sum(long) >= N // 2 and sum(short) >= M - 1
  end   = sum(long) <= N // 2 and sum(short) <= 1
The label switches on when `start` holds and off only when `end` holds. The reference tested
`sum(long) == N // 2` for `end`; the long sum moves by one per frame but `end` also needs the
short sum low, so the long sum can pass N // 2 while `end` is false and never return, leaving
the label on forever. `<=` fixes that.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

LONG_HISTORY_SIZE = 10
SHORT_HISTORY_SIZE = 6


class StateHistory:
    """One track's histories and its smoothed (sticky) state."""

    def __init__(self, long_size: int = LONG_HISTORY_SIZE, short_size: int = SHORT_HISTORY_SIZE):
        if long_size < 2 or short_size < 2:
            raise ValueError(f"history sizes must be >= 2, got {long_size} and {short_size}")
        self.long: deque[bool] = deque(maxlen=long_size)
        self.short: deque[bool] = deque(maxlen=short_size)
        self.active = False

    @property
    def full(self) -> bool:
        return len(self.long) == self.long.maxlen and len(self.short) == self.short.maxlen

    def starts(self) -> bool:
        n, m = self.long.maxlen, self.short.maxlen
        return self.full and sum(self.long) >= n // 2 and sum(self.short) >= m - 1

    def ends(self) -> bool:
        return self.full and sum(self.long) <= self.long.maxlen // 2 and sum(self.short) <= 1

    def update(self, state: bool) -> bool:
        """Append this frame's state; returns the smoothed state."""
        self.long.append(bool(state))
        self.short.append(bool(state))
        if not self.full:
            self.active = False
        elif self.starts():
            self.active = True
        elif self.ends():
            self.active = False
        return self.active


class TrackSmoother:
    """Histories for all live tracks: matched tracks append their state, live unmatched tracks
    append False, and a track's history goes when the track does."""

    def __init__(self, long_size: int = LONG_HISTORY_SIZE, short_size: int = SHORT_HISTORY_SIZE):
        StateHistory(long_size, short_size)  # validate the sizes now, not at the first track
        self.long_size = long_size
        self.short_size = short_size
        self.histories: dict[int, StateHistory] = {}

    def update(self, states: Mapping[int, bool], alive_ids: Iterable[int]) -> dict[int, bool]:
        """`states`: this frame's state per matched track id. Returns the smoothed state of
        every live track."""
        alive = set(alive_ids) | set(states)
        for track_id in list(self.histories):
            if track_id not in alive:
                del self.histories[track_id]
        smoothed = {}
        for track_id in alive:
            history = self.histories.get(track_id)
            if history is None:
                history = self.histories[track_id] = StateHistory(self.long_size, self.short_size)
            smoothed[track_id] = history.update(states.get(track_id, False))
        return smoothed

    def reset(self) -> None:
        self.histories.clear()
