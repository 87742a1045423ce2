"""Greedy IoU tracker: the reference's SORT-like matcher without motion prediction.

Each frame, the best remaining (track, detection) pair by IoU is matched first, as long as its
IoU is strictly above the threshold; a matched track takes the detection's box; unmatched
detections open new tracks (ids from 1); a track unmatched for more than `max_missed` frames
in a row is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hsc_infer.detectors.base import Box, iou


@dataclass(slots=True)
class Track:
    track_id: int
    box: Box
    missed: int = 0  # consecutive frames without a match


class IouTracker:
    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 30) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    @property
    def active_ids(self) -> set[int]:
        return {t.track_id for t in self.tracks}

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 1

    def _match(self, boxes: Sequence[Box]) -> list[tuple[int, int]]:
        if not self.tracks or not boxes:
            return []
        scores = np.array([[iou(t.box, b) for b in boxes] for t in self.tracks], dtype=np.float64)
        matches = []
        while True:
            t, d = np.unravel_index(int(np.argmax(scores)), scores.shape)
            if scores[t, d] <= self.iou_threshold:
                return matches
            matches.append((int(t), int(d)))
            scores[t, :] = -1.0
            scores[:, d] = -1.0

    def update(self, boxes: Sequence[Box]) -> list[int]:
        """Match this frame's boxes; returns the track id of each box, in order."""
        ids = [0] * len(boxes)
        matched_tracks = set()
        for t, d in self._match(boxes):
            track = self.tracks[t]
            track.box = tuple(boxes[d])
            track.missed = 0
            ids[d] = track.track_id
            matched_tracks.add(t)
        survivors = []
        for index, track in enumerate(self.tracks):
            if index not in matched_tracks:
                track.missed += 1
            if track.missed <= self.max_missed:
                survivors.append(track)
        self.tracks = survivors
        for d, box in enumerate(boxes):
            if ids[d] == 0:
                ids[d] = self._next_id
                self.tracks.append(Track(self._next_id, tuple(box)))
                self._next_id += 1
        return ids
