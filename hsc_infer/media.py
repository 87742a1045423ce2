"""Finding and opening images and videos."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.errors import MediaError
from hsc_infer.image_header import header_problem
from hsc_infer.labels import IMAGE_SUFFIXES

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def list_images(directory: str | Path, extensions: Iterable[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files under `directory`, recursively, any letter case, sorted."""
    extensions = {e.lower() for e in extensions}
    root = Path(directory)
    if not root.is_dir():
        raise NotADirectoryError(f"images directory not found: {root}")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(media files, missing or unsupported paths); directories are searched recursively."""
    found, rejected = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and (is_image(p) or is_video(p))
            )
        elif path.is_file() and (is_image(path) or is_video(path)):
            found.append(path)
        else:
            rejected.append(path)
    return found, rejected


def read_image(path: str | Path) -> np.ndarray | None:
    """BGR uint8 image, or None when the file cannot be read or decoded."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return decode_image(data, cv2.IMREAD_COLOR)


def decode_image(data: bytes, flags: int) -> np.ndarray | None:
    """`cv2.imdecode` of encoded bytes, or None when they do not decode; an image whose header
    claims no pixels or too many (a decompression bomb) is refused before any decoding."""
    if len(data) == 0 or header_problem(data) is not None:
        return None
    try:
        return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:  # OpenCV refuses some images by raising (over its own pixel limit)
        return None


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


def open_capture(source: str | int) -> cv2.VideoCapture:
    """A camera index ("0", "-1"), a stream URL or a video file."""
    spec = capture_spec(source)
    capture = cv2.VideoCapture(spec)
    if not capture.isOpened():
        raise MediaError(f"cannot open video source {source!r}")
    return capture


def frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def capture_fps(capture: cv2.VideoCapture, default: float = 30.0) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and fps > 0 and np.isfinite(fps) else default


class Prefetcher:
    """Reads frames on a thread, `depth` ahead, so decoding (or waiting for the camera)
    overlaps with the work on the previous frame; OpenCV releases the GIL while it reads.

    Iterate it like `frames(capture)`; `close()` stops the thread (also at the end of the
    stream). A read error on the thread is raised on the consumer's side.
    """

    _END = object()

    def __init__(self, capture: cv2.VideoCapture, depth: int = 2) -> None:
        self._capture = capture
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
            for frame in frames(self._capture):
                if not self._put(frame):
                    return
        except Exception as e:  # handed to the consumer, which raises it
            self._put(e)
            return
        self._put(self._END)

    def __iter__(self) -> Iterator[np.ndarray]:
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
