"""Builders of bad input shared by the test_bad_input_* modules: small parquet datasets with
one row spoilt, image files whose header claims a size the data does not back up (decompression
bombs, images of no pixels), and the readers each case goes through.

Tests import this as `from bad_inputs import ...` (tests/ is on sys.path)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hsc_jax.data.dataset import load_dataset
from hsc_jax.data.inspection import inspect_dataset
from hsc_jax.data.settings import DataSettings

ROWS = 6
BAD_ROW = 1  # the row each per-row case spoils


def png_claiming(width: int, height: int, pixels: bytes | None = None, colour: int = 2) -> bytes:
    """A PNG whose header claims width x height pixels (colour type 2: RGB, 0: grey), with
    `pixels` as its compressed data (by default a token that cannot fill the image)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64) if pixels is None else pixels
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """SOI, a JFIF APP0 segment, then a baseline frame header claiming width x height."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + frame + b"\xff\xd9"


def gif_claiming(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b";"


def png(seed: int, size: tuple[int, int] = (8, 8)) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def good_columns() -> dict[str, list]:
    """Six distinct images, five train rows and one val row, labels alternating."""
    return {
        "split": ["train"] * (ROWS - 1) + ["val"],
        "image_bytes": [png(i) for i in range(ROWS)],
        "class_id": [i % 2 for i in range(ROWS)],
    }


def write(path: Path, columns: dict[str, list | pa.Array]) -> Path:
    with open(path, "wb") as handle:  # a file object: pyarrow refuses non-UTF-8 names
        pq.write_table(pa.table(columns), handle)
    return path


def with_row(column: str, value: object) -> dict[str, list]:
    columns = good_columns()
    columns[column][BAD_ROW] = value
    return columns


def load(
    path: Path,
    mode: str,
    tmp_path: Path,
    image_size: tuple[int, int] = (48, 48),
    skip_bad_rows: bool = False,
):
    """What each reader gives for `path`: a Dataset, or an InspectReport for "inspect"."""
    if mode == "inspect":
        return inspect_dataset(path, workers=1)
    settings = DataSettings(
        cache=mode, stream_cache_dir=tmp_path / "index", skip_bad_rows=skip_bad_rows
    )
    return load_dataset(path, image_size, settings, workers=1)


MODES = ("ram", "stream", "auto", "inspect")
