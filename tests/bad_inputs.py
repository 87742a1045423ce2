"""Builders of bad input shared by the test_bad_input_* modules: image files whose header
claims a size the data does not back up (decompression bombs, images of no pixels).

Tests import this as `from bad_inputs import ...` (tests/ is on sys.path)."""

from __future__ import annotations

import struct
import zlib


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
