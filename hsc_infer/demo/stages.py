"""Per-stage times of the demo loop: where a frame's milliseconds go, and the loop's FPS."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# In loop order. "capture" is the wait for the next frame (decoding runs on a reader thread);
# "writing" covers output.mp4, output.jsonl and -oyt files; "display" is imshow and the key wait.
STAGES = (
    "capture",
    "detection",
    "classification",
    "tracking",
    "drawing",
    "writing",
    "display",
)
SHORT_NAMES = {
    "capture": "cap",
    "detection": "det",
    "classification": "cls",
    "tracking": "trk",
    "drawing": "draw",
    "writing": "write",
    "display": "show",
}


class StageTimes:
    """Milliseconds per stage for every frame, the last frame's, and the loop's FPS."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.last: dict[str, float] = {}
        self.frame_ms: list[float] = []
        self._frame_start: float | None = None
        self.fps = 0.0  # smoothed, for the overlay

    def add(self, stage: str, ms: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        self.samples[stage].append(ms)
        self.last[stage] = ms

    @contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - start) * 1000)

    def start_frame(self) -> None:
        """Call before waiting for a frame: a frame's time runs from one call to the next."""
        now = time.perf_counter()
        if self._frame_start is not None:
            ms = (now - self._frame_start) * 1000
            self.frame_ms.append(ms)
            fps = 1000.0 / max(ms, 1e-3)
            # Exponential average: steady on screen, follows load changes within a second.
            self.fps = fps if self.fps == 0 else 0.9 * self.fps + 0.1 * fps
        self._frame_start = now

    def end(self) -> None:
        """After the loop: the time since the last frame (the failed read) is no frame's."""
        self._frame_start = None

    def means(self) -> dict[str, float]:
        """Mean ms per stage. Means, not medians: they add up to about the mean frame time
        (1000 / loop FPS), so the log's summary and `benchmarks.inference.demo` show where it
        goes."""
        return {s: float(np.mean(self.samples[s])) for s in STAGES if self.samples.get(s)}

    def loop_fps(self) -> float:
        """Frames per second over the whole run (total frames / total time)."""
        return len(self.frame_ms) / (sum(self.frame_ms) / 1000) if self.frame_ms else 0.0

    def overlay_line(self) -> str:
        """The last frame's stages, short: 'det 9.1 cls 1.0 ...' (ms)."""
        return " ".join(f"{SHORT_NAMES[s]} {self.last[s]:.1f}" for s in STAGES if s in self.last)

    def summary(self) -> str:
        """One line for the log: FPS and mean ms per stage over the run."""
        means = self.means()
        stages = ", ".join(f"{s} {ms:.1f}" for s, ms in means.items())
        return f"{self.loop_fps():.1f} FPS over {len(self.frame_ms)} frames; mean ms: {stages}"
