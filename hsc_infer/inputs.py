"""Finding, reading and opening the images and videos a user names: the library's file inputs.

Images are read as BGR uint8 (the classifier's and detectors' input); videos are opened with
OpenCV and read frame by frame.
"""

from __future__ import annotations

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


def open_capture(spec: str | int | Path) -> cv2.VideoCapture:
    """An OpenCV capture of `spec` as OpenCV takes it: a video file, a stream URL, or a camera
    index as an int. Raises MediaError when OpenCV cannot open it."""
    capture = cv2.VideoCapture(str(spec) if isinstance(spec, Path) else spec)
    if not capture.isOpened():
        raise MediaError(f"cannot open video source {spec!r}")
    return capture


def frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """The capture's frames (BGR uint8) until it ends or a read fails."""
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame
