"""An image's pixel size read from its header, before any decoder runs.

A few kilobytes of PNG or JPEG can claim gigapixels (a decompression bomb): OpenCV allocates
the whole image before it finds out, and refuses only above 2**30 pixels, by raising. Reading
the size from the header first lets the readers refuse such images with a message, cheaply.
Formats not parsed here (TIFF, PPM, ...) are left to OpenCV's own limit.
"""

from __future__ import annotations

import struct

# Pillow's limit for untrusted images: about 256 MB once decoded to 8-bit RGB.
MAX_IMAGE_PIXELS = 89_478_485

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers: every 0xC0-0xCF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def header_size(data: bytes) -> tuple[int, int] | None:
    """(H, W) as a PNG, JPEG, GIF, BMP or WebP header states it; None for other formats or a
    header too short to say."""
    try:
        if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return height, width
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return height, width
        if data.startswith(b"BM"):
            return _bmp_size(data)
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp_size(data)
    except struct.error:  # the header breaks off
        return None
    return None


def header_problem(data: bytes) -> str | None:
    """Why `data` must not be decoded (no pixels, or more than MAX_IMAGE_PIXELS), else None."""
    size = header_size(data)
    if size is None:
        return None
    height, width = size
    if height * width == 0:
        return f"the image header says {width}x{height} pixels: no pixels"
    if height * width > MAX_IMAGE_PIXELS:
        return (
            f"the image header says {width}x{height} pixels, over the limit of "
            f"{MAX_IMAGE_PIXELS:,} (a decompression bomb, or a file that is not a crop)"
        )
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return height, width
        if marker == 0xDA:  # image data before any frame header
            return None
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    return None


def _bmp_size(data: bytes) -> tuple[int, int]:
    if struct.unpack("<I", data[14:18])[0] == 12:  # the old OS/2 header: 16-bit sizes
        width, height = struct.unpack("<HH", data[18:22])
        return height, width
    width, height = struct.unpack("<ii", data[18:26])
    return abs(height), abs(width)  # a negative height means rows stored top-down


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit sizes minus one
        return int.from_bytes(data[27:30], "little") + 1, int.from_bytes(data[24:27], "little") + 1
    if chunk == b"VP8L":  # lossless: 14-bit sizes minus one, packed
        bits = struct.unpack("<I", data[21:25])[0]
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", data[26:30])
        return height & 0x3FFF, width & 0x3FFF
    return None
