"""The detector on its own thread, one frame ahead of the demo's loop.

onnxruntime releases the GIL while it runs, so YuNet can search the next frame the detector is
due on while the loop classifies, tracks, draws and writes the current one. Each frame gets the
detections it would get in turn (the same detector on the same pixels); they are just ready
sooner. `DetectAhead` wraps the frame stream and the detector: iterate `frames()` instead of the
stream, and call it instead of the detector.

Frames the loop asks detections for that were not run ahead (the schedule changed, for example
when tracking is toggled) are detected on the spot. A detector that keeps per-frame state for
the caller to read (DEIMv2's rows for the whole-body view) must not run ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from hsc_infer.detectors.base import Detection, Detector


class DetectAhead:
    """`frames` with the detections of every `detect_every`-th frame (0, N, 2N, ...: the demo
    pipeline's schedule) started on a thread as soon as the frame is read, one frame before the
    loop takes it. `prepare` runs on each frame first (the mirror flip), so that what the
    detector sees is what the loop gets."""

    def __init__(
        self,
        detector: Detector,
        frames: Iterator[np.ndarray],
        detect_every: int = 1,
        prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self._source = frames
        self._every = detect_every
        self._prepare = prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._pending: deque[tuple[np.ndarray, Future[list[Detection]]]] = deque()
        self.run_ahead = 0  # detections served from the thread (for tests and the log)

    def frames(self) -> Iterator[np.ndarray]:
        """The frames, each read one step early so that its detection can start."""
        upcoming = self._read(0)
        index = 0
        while upcoming is not None:
            current, upcoming = upcoming, self._read(index + 1)
            index += 1
            yield current

    def _read(self, index: int) -> np.ndarray | None:
        frame = next(self._source, None)
        if frame is None:
            return None
        if self._prepare is not None:
            frame = self._prepare(frame)
        if index % self._every == 0:
            self._pending.append((frame, self._pool.submit(self.detector, frame)))
        return frame

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        if not any(ahead is frame for ahead, _ in self._pending):
            return self.detector(frame)
        while True:
            ahead, future = self._pending.popleft()
            if ahead is frame:
                self.run_ahead += 1
                return future.result()
            future.cancel()  # an earlier frame the loop did not detect on after all

    def close(self) -> None:
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)
