"""Greedy IoU tracker: the reference's SORT-like matcher without motion prediction, with
temporal confirmation on top.

Each frame, the best remaining (track, detection) pair by IoU is matched first, as long as its
IoU is strictly above the threshold; a matched track takes the detection's box; unmatched
detections open new tracks (ids from 1); a track unmatched for more than `max_missed` frames
in a row is dropped.

What is shown is separate from what is tracked. A new track is tentative until it has been
matched on `confirm_hits` detector runs, which must land within its first `confirm_window`
detector runs (counting the one that opened it); a tentative track that can no longer make it is
dropped. So a box the detector draws on one frame only never shows when `confirm_hits` >= 2.
A confirmed track that loses its detection is kept on screen at its last box for up to
`keep_missed` frames, so a face missed for a frame does not blink out. Frames whose boxes were
carried by motion (`detected=False`) move tracks but count towards neither: a carried false box
is still the one detector run's box. `confirm_hits=1, keep_missed=0` is the reference's
behaviour: every detection is shown at once, and only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hsc_infer.detectors.base import Box, iou

# The demo's defaults (its --confirm-hits / --keep-missed flags), from
# `benchmarks.face_path.run_clips` (2026-12-06, seeds 2-5 reset at each cut: 2,400 camera-like
# frames, 54 faces; YuNet's defaults then, detector on every 2nd frame as the demo ran it): k=2
# halves the false tracks shown (8 -> 4) and cuts false boxes from 0.043 to 0.031 per frame, for
# a new face shown 2 frames (67 ms at 30 FPS) later, which is most of the recall it costs on
# these 60-frame segments (92.5 -> 89.2 %). m=2 wins back under a point of recall but keeps false
# tracks on too, adding more false boxes than found faces. No setting moves recall past YuNet's
# own.
CONFIRM_HITS = 2
KEEP_MISSED = 0
# Detector runs a tentative track may miss before its `confirm_hits` matches: 1 lets a true face
# that the detector drops once still confirm (k=3, every frame: 4 of the 81 faces never shown
# instead of 5), at the cost of a false box's second chance (6 false tracks instead of 3).
CONFIRM_SLACK = 1


@dataclass(slots=True)
class Track:
    track_id: int
    box: Box
    missed: int = 0  # consecutive frames without a match
    hits: int = 1  # detector runs that matched it, the one that opened it included
    runs: int = 1  # detector runs since it opened, that one included
    confirmed: bool = False


class IouTracker:
    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_missed: int = 30,
        confirm_hits: int = 1,
        keep_missed: int = 0,
        confirm_window: int | None = None,
    ) -> None:
        """`confirm_window`: detector runs within which `confirm_hits` matches confirm a track
        (default `confirm_hits + CONFIRM_SLACK`)."""
        window = confirm_hits + CONFIRM_SLACK if confirm_window is None else confirm_window
        if confirm_hits < 1 or keep_missed < 0 or window < confirm_hits:
            raise ValueError(
                f"need confirm_hits >= 1, keep_missed >= 0 and confirm_window >= confirm_hits, "
                f"got {confirm_hits}, {keep_missed} and {window}"
            )
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.confirm_hits = confirm_hits
        self.keep_missed = keep_missed
        self.confirm_window = window
        self.tracks: list[Track] = []
        self._next_id = 1

    @property
    def active_ids(self) -> set[int]:
        return {t.track_id for t in self.tracks}

    @property
    def confirmed_ids(self) -> set[int]:
        return {t.track_id for t in self.tracks if t.confirmed}

    def kept_tracks(self) -> list[Track]:
        """Confirmed tracks unmatched this frame that are still shown (at their last box)."""
        return [t for t in self.tracks if t.confirmed and 0 < t.missed <= self.keep_missed]

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

    def _alive(self, track: Track) -> bool:
        if track.confirmed:
            return track.missed <= self.max_missed
        # Tentative: alive while the hits still missing fit in the runs left of its window.
        return self.confirm_hits - track.hits <= self.confirm_window - track.runs

    def update(self, boxes: Sequence[Box], detected: bool = True) -> list[int]:
        """Match this frame's boxes; returns the track id of each box, in order (tentative
        tracks included: `confirmed_ids` says which to show). `detected`: False where the boxes
        were carried from the last detector run rather than detected on this frame."""
        ids = [0] * len(boxes)
        matched_tracks = set()
        for t, d in self._match(boxes):
            track = self.tracks[t]
            track.box = tuple(boxes[d])
            track.missed = 0
            track.hits += detected
            ids[d] = track.track_id
            matched_tracks.add(t)
        survivors = []
        for index, track in enumerate(self.tracks):
            if index not in matched_tracks:
                track.missed += 1
            track.runs += detected
            track.confirmed = track.confirmed or track.hits >= self.confirm_hits
            if self._alive(track):
                survivors.append(track)
        self.tracks = survivors
        for d, box in enumerate(boxes):
            if ids[d] == 0:
                ids[d] = self._next_id
                # A box carried to this frame is no detector hit of its own.
                track = Track(self._next_id, tuple(box), hits=int(detected), runs=int(detected))
                track.confirmed = self.confirm_hits <= 1
                self.tracks.append(track)
                self._next_id += 1
        return ids
