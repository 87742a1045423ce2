"""The detector on its own thread, started on each frame as soon as the frame is read.

onnxruntime releases the GIL while it runs, so YuNet can search a frame while the loop is still
classifying, tracking, drawing and writing the frames before it. Frames are read on a thread of
their own (`capture.Prefetcher`), which hands each frame the detector is due on (every Nth: the
demo pipeline's schedule) to the detector's thread the moment it arrives: from a camera, nothing
waits for the next frame; from a file, detection runs up to `depth` frames ahead. Each frame gets
the detections it would get in turn (the same detector on the same pixels), only sooner.
`DetectAhead` wraps the frame stream and the detector: iterate `frames()` instead of the stream,
and call it instead of the detector.

A frame the loop asks detections for that was not detected ahead is detected on the spot, and
detections of frames the loop passed without asking are dropped. A detector that keeps
per-frame state for the caller to read (DEIMv2's rows for the whole-body view) must not run
ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from hsc_infer.demo.capture import Prefetcher
from hsc_infer.detectors.base import Detection, Detector


class DetectAhead:
    """`frames` read on a thread, with the detections of every `detect_every`-th frame (0, N,
    2N, ...) started on another as each is read. `prepare` runs on each frame first (the mirror
    flip), so that what the detector sees is what the loop gets."""

    def __init__(
        self,
        detector: Detector,
        frames: Iterator[np.ndarray],
        detect_every: int = 1,
        prepare: Callable[[np.ndarray], np.ndarray] | None = None,
        depth: int = 2,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self._every = detect_every
        self._prepare = prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._reader = Prefetcher(self._scheduled(frames), depth)
        # Detections of frames handed to the loop, oldest first: (index, frame, future).
        self._pending: deque[tuple[int, np.ndarray, Future[list[Detection]]]] = deque()
        self._current = -1  # index of the frame the loop has now
        self.run_ahead = 0  # detections served from the thread

    def _scheduled(
        self, frames: Iterator[np.ndarray]
    ) -> Iterator[tuple[int, np.ndarray, Future[list[Detection]] | None]]:
        """Runs on the reader's thread: each frame, prepared, its detection started if due."""
        for index, frame in enumerate(frames):
            if self._prepare is not None:
                frame = self._prepare(frame)
            due = index % self._every == 0
            yield index, frame, self._pool.submit(self.detector, frame) if due else None

    def frames(self) -> Iterator[np.ndarray]:
        """The frames in order, as the reader delivers them."""
        for index, frame, future in self._reader:
            self._current = index
            self._drop_passed()
            if future is not None:
                self._pending.append((index, frame, future))
            yield frame

    def _drop_passed(self) -> None:
        """Forget detections of frames before the loop's current one: it did not ask for them."""
        while self._pending and self._pending[0][0] < self._current:
            self._pending.popleft()[2].cancel()

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        self._drop_passed()
        if self._pending and self._pending[0][1] is frame:
            self.run_ahead += 1
            return self._pending.popleft()[2].result()
        return self.detector(frame)

    def close(self) -> None:
        self._reader.close()
        for _, _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
