"""hsc_infer.image_header: the size every supported format states in its header, so that valid
images are never refused and oversized ones are, whatever the format."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest

from hsc_infer.image_header import MAX_IMAGE_PIXELS, header_problem, header_size
from hsc_infer.inputs import decode_image

HEIGHT, WIDTH = 37, 53
IMAGE = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _opencv(ext: str, *params: int) -> bytes:
    return cv2.imencode(ext, IMAGE, list(params))[1].tobytes()


def _pillow(fmt: str, large_exif: bool = False) -> bytes:
    from PIL import Image as Image

    options = {}
    if large_exif:  # pushes the JPEG frame header past 5 KB of other segments
        options["exif"] = Image.Exif()
        options["exif"][0x010E] = "a long description " * 300
    buffer = io.BytesIO()
    Image.fromarray(IMAGE).save(buffer, fmt, **options)
    return buffer.getvalue()


ENCODERS = {
    "PNG": lambda: _opencv(".png"),
    "JPEG": lambda: _opencv(".jpg"),
    "progressive JPEG": lambda: _opencv(".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    "JPEG with a large EXIF block": lambda: _pillow("JPEG", large_exif=True),
    "BMP": lambda: _opencv(".bmp"),
    "lossy WebP": lambda: _opencv(".webp", cv2.IMWRITE_WEBP_QUALITY, 80),
    "lossless WebP": lambda: _opencv(".webp", cv2.IMWRITE_WEBP_QUALITY, 101),
    "GIF": lambda: _pillow("GIF"),
}


@pytest.mark.parametrize("fmt", list(ENCODERS))
def test_the_header_size_is_the_image_size(fmt: str):
    data = ENCODERS[fmt]()
    assert header_size(data) == (HEIGHT, WIDTH)
    assert header_problem(data) is None
    assert decode_image(data, cv2.IMREAD_COLOR).shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("ext", [".tiff", ".ppm"])
def test_formats_without_a_parser_are_left_to_opencv(ext: str):
    data = _opencv(ext)
    assert header_size(data) is None
    assert decode_image(data, cv2.IMREAD_COLOR).shape == (HEIGHT, WIDTH, 3)


def _bmp(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(info), 0, 0, 54) + info


def _webp_extended(width: int, height: int) -> bytes:
    sizes = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(4) + sizes


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_bmp(100_000, -90_000), (90_000, 100_000)),  # negative height: rows top-down
        (_webp_extended(16_000_000, 12), (12, 16_000_000)),
    ],
)
def test_oversized_headers_are_refused_before_decoding(data: bytes, size: tuple[int, int]):
    assert header_size(data) == size
    assert f"{size[1]}x{size[0]} pixels, over the limit of {MAX_IMAGE_PIXELS:,}" in str(
        header_problem(data)
    )
    assert decode_image(data, cv2.IMREAD_COLOR) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a\x01", b"BM", b"RIFF\x00\x00\x00\x00WEBP"],
)
def test_a_header_that_breaks_off_says_nothing(data: bytes):
    assert header_size(data) is None
    assert decode_image(data, cv2.IMREAD_COLOR) is None
