"""Where the demo's frames come from: what `-v` names (a camera index, a stream URL or a video
file), the capture's frame rate, and a reader thread that decodes ahead of the loop."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hsc_infer.inputs import frames, open_capture


def capture_spec(source: str | int) -> str | int:
    """What OpenCV is given for `source`: a camera index as an int ("0", or "-1" for the first
    camera OpenCV finds), a stream URL ("rtsp://...", "http://...") as it is, else a file path.
    Raises FileNotFoundError for a path that does not exist."""
    if isinstance(source, int):
        return source
    text = source.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if "://" in text:
        return text  # a stream: nothing on disk to check
    if not Path(text).is_file():
        raise FileNotFoundError(f"video file not found: {text}")
    return text


def open_source(source: str | int) -> cv2.VideoCapture:
    """A camera index ("0", "-1"), a stream URL or a video file, opened."""
    return open_capture(capture_spec(source))


def capture_fps(capture: cv2.VideoCapture, default: float = 30.0) -> float:
    """The capture's frame rate; `default` where it reports none (many cameras and streams)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and fps > 0 and np.isfinite(fps) else default


class Prefetcher:
    """Reads frames on a thread, `depth` ahead, so decoding (or waiting for the camera)
    overlaps with the work on the previous frame; OpenCV releases the GIL while it reads.

    Iterate it like `frames(capture)`; `close()` stops the thread (also at the end of the
    stream). A read error on the thread is raised on the consumer's side, after the items read
    before it. `source` is a capture, or any iterable whose items are made on the thread.
    """

    _END = object()

    def __init__(self, source: cv2.VideoCapture | Iterable[Any], depth: int = 2) -> None:
        self._items = frames(source) if isinstance(source, cv2.VideoCapture) else iter(source)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="frame-reader", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except Exception as e:  # handed to the consumer, which raises it
            self._put(e)
            return
        self._put(self._END)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
