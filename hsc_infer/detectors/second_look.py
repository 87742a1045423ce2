"""A second, closer look at the candidates YuNet is unsure of.

YuNet searches the whole frame at one working width (640 px by default), where a 60 px face is
hard to tell from a cat's eye or a headlight, which can score like a face. A candidate
scored between `floor` and `sure` is looked at again: the square around it (`context` times its
size) is resampled to `patch` pixels, so the face fills about 70 px, and YuNet runs on that patch
alone. The candidate's score becomes the best score the closer look gives on the same spot
(IoU >= `same_spot`), 0 where it finds nothing there; the detector's threshold then applies as
usual. Candidates at `sure` or above keep their score, and those under `floor` stay dropped.

On the held-out half of the face-path benchmark's v2 scenes (docs/face-path-benchmark.md; 500
frames, 557 faces, YuNet at 448 px, score >= 0.5) it found more faces with fewer false boxes:
94.4 % with 0.018 false boxes per frame, against 93.5 % with 0.034 for the threshold alone (on
the dev half: 93.4 % / 0.050 against 91.9 % / 0.062). It was tuned on the dev half and on the
v1 scenes. Each look costs about 1-3 ms (one thread), and most frames have no candidate to look
at (0.2 a frame on v1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import numpy as np

from hsc_infer.detectors.base import iou, square_patch


class Candidates(Protocol):
    """A detector's raw output (a dataclass, such as `yunet.YuNetOutput`)."""

    scores: np.ndarray  # (N,) in [0, 1]
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2


C = TypeVar("C", bound=Candidates)


@dataclass(frozen=True, slots=True)
class SecondLook:
    floor: float = 0.3  # candidates under this score are not looked at again (they stay dropped)
    sure: float = 0.7  # candidates at or above this score keep it without a second look
    context: float = 1.6  # the patch's side, in sides of the candidate's box
    patch: int = 112  # the patch's side in pixels
    same_spot: float = 0.5  # IoU with the candidate for a closer detection to confirm it

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= self.sure <= 1.0:
            raise ValueError(f"second look needs 0 <= floor <= sure <= 1, got {self}")
        if self.context < 1.0 or self.patch < 32:
            raise ValueError(f"second look needs context >= 1 and patch >= 32, got {self}")

    def needs_look(self, score: float) -> bool:
        return self.floor <= score < self.sure

    def look(
        self, frame: np.ndarray, box: np.ndarray, search: Callable[[np.ndarray], Candidates]
    ) -> float:
        """The best score the detector gives `box` (frame pixels, x1 y1 x2 y2) on a patch cut
        around it at `patch` pixels; 0 when it finds no face on the same spot. `search`: the
        detector's own search on an image as it is, boxes in its pixels."""
        x1, y1, x2, y2 = box
        side = self.context * max(x2 - x1, y2 - y1)
        left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
        scale = self.patch / side
        found = search(square_patch(frame, (left, top, left + side, top + side), self.patch))
        boxes = found.boxes / scale + np.array([left, top, left, top])
        return max(
            (
                float(s)
                for s, b in zip(found.scores, boxes, strict=True)
                if iou(b, box) >= self.same_spot
            ),
            default=0.0,
        )

    def rescore(self, frame: np.ndarray, output: C, search: Callable[[np.ndarray], C]) -> C:
        """`output` with each unsure candidate's score replaced by its second look's."""
        scores = output.scores.copy()
        for i, (score, box) in enumerate(zip(output.scores, output.boxes, strict=True)):
            if self.needs_look(score):
                scores[i] = self.look(frame, box, search)
        return replace(output, scores=scores)
