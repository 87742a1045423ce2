"""Image sizes from text, and decoding the dataset's images once into a uint8 cache."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.contract import resize_image
from hsc_infer.image_header import header_problem
from hsc_infer.inputs import decode_image

_SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*(?:[x×,]\s*(\d+)\s*)?$", re.IGNORECASE)
_CHUNK = 512  # rows per task: large enough to amortise scheduling, small enough to balance


def parse_image_size(text: str | int | Sequence[int]) -> tuple[int, int]:
    """'48' -> (48, 48); '64x48', '64,48', '64×48' -> (64, 48), read as (H, W)."""
    if isinstance(text, int):
        text = str(text)
    elif not isinstance(text, str):
        values = tuple(text)
        if len(values) != 2:
            raise ValueError(f"image size must be (H, W), got {values!r}")
        text = f"{values[0]}x{values[1]}"
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"image size {text!r} is not understood: use one number (48) or HxW (64x48, 64,48)"
        )
    height = int(match.group(1))
    width = int(match.group(2) or height)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return height, width


def decode_rgb(data: bytes) -> np.ndarray | None:
    """PNG/JPEG bytes -> (H, W, 3) uint8 RGB (grey replicated), or None when undecodable.

    IMREAD_COLOR is what cv2.imread does at inference, so both read a file the same way.
    """
    image = decode_image(data, cv2.IMREAD_COLOR)
    if image is None:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def probe_image(data: bytes) -> tuple[int, int, int] | None:
    """(H, W, channels) as stored in the file, or None when undecodable."""
    image = decode_image(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    return image.shape[0], image.shape[1], 1 if image.ndim == 2 else image.shape[2]


@dataclass(frozen=True)
class DecodedImages:
    """Per input row, in input order. Rows listed in `errors` hold zeros / empty strings."""

    images: np.ndarray | None  # (N, H, W, 3) uint8 RGB at the asked size; None when probing
    md5: list[str]  # hex digest of the encoded bytes ("" where they could not be read)
    shapes: np.ndarray  # (N, 3) int32 (H, W, channels) as decoded; channels as stored when probing
    errors: dict[int, str]  # row position -> what is wrong with its image


def decode_images(
    image_bytes: Sequence[bytes | None],
    image_paths: Sequence[str | None],
    base_dir: Path,
    image_size: tuple[int, int] | None,
    workers: int | None = None,
) -> DecodedImages:
    """Read each row's image (bytes first, else the file), hash it and decode it.

    With `image_size` the RGB image is resized into the cache; without, the image is only probed
    for its stored size and channels (for `inspect`). cv2 and hashlib release the GIL, so a thread
    pool scales over cores without copying anything between processes.
    """
    count = len(image_bytes)
    images = None if image_size is None else np.zeros((count, *image_size, 3), dtype=np.uint8)
    md5 = [""] * count
    shapes = np.zeros((count, 3), dtype=np.int32)

    def run_chunk(start: int) -> dict[int, str]:
        errors: dict[int, str] = {}
        for i in range(start, min(start + _CHUNK, count)):
            if images is None:
                data, problem = _read_bytes(image_bytes[i], image_paths[i], base_dir)
                if data is None:
                    errors[i] = problem
                    continue
                md5[i] = hashlib.md5(data).hexdigest()
                shape = probe_image(data)
                if shape is None:
                    errors[i] = undecodable(data, problem)
                else:
                    shapes[i] = shape
                continue
            row = check_row(image_bytes[i], image_paths[i], base_dir)
            md5[i] = row.md5
            if row.error is not None:
                errors[i] = row.error
                continue
            assert row.rgb is not None
            shapes[i] = (*row.rgb.shape[:2], 3)
            images[i] = resize_image(row.rgb, image_size)
        return errors

    workers = workers or min(8, os.cpu_count() or 1)
    errors: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk_errors in pool.map(run_chunk, range(0, count, _CHUNK)):
            errors.update(chunk_errors)
    return DecodedImages(images=images, md5=md5, shapes=shapes, errors=errors)


@dataclass(frozen=True)
class CheckedRow:
    """One row's image read, hashed and decoded; `error` says why it cannot be used."""

    data: bytes | None  # the encoded bytes (None when they could not be read)
    md5: str  # hex digest of `data` ("" without data)
    rgb: np.ndarray | None  # (H, W, 3) uint8 as stored, None when undecodable
    error: str | None


def check_row(data: bytes | None, path: str | None, base_dir: Path) -> CheckedRow:
    """Read a row's image (bytes first, else the file), hash it and decode it: the one check
    that both the in-memory cache and the streaming index apply, so both find the same bad rows
    with the same messages."""
    data, problem = _read_bytes(data, path, base_dir)
    if data is None:
        return CheckedRow(None, "", None, problem)
    digest = hashlib.md5(data).hexdigest()
    rgb = decode_rgb(data)
    error = undecodable(data, problem) if rgb is None else None
    return CheckedRow(data, digest, rgb, error)


def undecodable(data: bytes, problem: str) -> str:
    """Why `data` gave no image, and where it came from."""
    refused = header_problem(data)
    return f"{refused or 'cannot decode the image'} ({len(data)} bytes {problem})"


def _read_bytes(data: bytes | None, path: str | None, base_dir: Path) -> tuple[bytes | None, str]:
    """(bytes, where they came from) or (None, why there are none)."""
    if isinstance(data, bytes | bytearray | memoryview) and len(data) > 0:
        return bytes(data), "from image_bytes"
    if isinstance(path, bytes):  # read_table leaves a path that is not UTF-8 as bytes
        return None, f"image_path {path!r} is not UTF-8 text"
    if not isinstance(path, str) or not path:
        return None, "no image: image_bytes and image_path are both empty"
    file = resolve_image_path(path, base_dir)
    try:
        return file.read_bytes(), f"from {file}"
    except FileNotFoundError:
        return None, f"image file not found: {file}"
    except OSError as e:
        return None, f"cannot read image file {file}: {e}"


def resolve_image_path(path: str, base_dir: Path) -> Path:
    """Absolute paths stay; relative ones are relative to the parquet's folder."""
    file = Path(path).expanduser()
    return file if file.is_absolute() else base_dir / file
