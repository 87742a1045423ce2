"""Finding and opening images and videos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.errors import MediaError
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
    """BGR uint8 image, or None when the file cannot be decoded (np.fromfile allows any path)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def open_capture(source: str | int) -> cv2.VideoCapture:
    """A camera index ("0") or a video file."""
    spec: str | int = int(source) if isinstance(source, str) and source.isdigit() else source
    if isinstance(spec, str) and not Path(spec).is_file():
        raise FileNotFoundError(f"video file not found: {spec}")
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
