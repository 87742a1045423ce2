"""Image sizes from text and the decoding cache."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hsc_jax.data.images import decode_images, decode_rgb, parse_image_size, probe_image


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("48", (48, 48)),
        ("64x48", (64, 48)),
        ("64X48", (64, 48)),
        ("64,48", (64, 48)),
        ("64×48", (64, 48)),
        (" 64 x 48 ", (64, 48)),
        (32, (32, 32)),
        ((40, 30), (40, 30)),
    ],
)
def test_parse_image_size(text, size):
    assert parse_image_size(text) == size


@pytest.mark.parametrize("text", ["", "x48", "48x", "4.8", "-48", "0", "48x0", "64x48x3", "big"])
def test_parse_image_size_rejects_bad_text(text):
    with pytest.raises(ValueError, match="image size"):
        parse_image_size(text)


def test_decode_handles_grey_alpha_and_garbage():
    rgba = np.zeros((5, 7, 4), dtype=np.uint8)
    rgba[..., 0] = 200  # blue in OpenCV's BGRA
    data = cv2.imencode(".png", rgba)[1].tobytes()
    assert decode_rgb(data)[0, 0].tolist() == [0, 0, 200]
    assert probe_image(data) == (5, 7, 4)
    assert decode_rgb(b"junk") is None and probe_image(b"") is None


def test_decode_images_fills_the_cache_and_reports_errors(tmp_path):
    grey = cv2.imencode(".png", np.full((30, 20), 10, dtype=np.uint8))[1].tobytes()
    (tmp_path / "f.png").write_bytes(grey)
    decoded = decode_images(
        [grey, None, b"bad", None], [None, "f.png", None, "gone.png"], tmp_path, (6, 4), workers=2
    )
    assert decoded.images.shape == (4, 6, 4, 3)
    assert (decoded.images[:2] == 10).all()
    assert decoded.md5[0] == decoded.md5[1] and decoded.md5[3] == ""
    assert decoded.shapes[0].tolist() == [30, 20, 3]
    assert set(decoded.errors) == {2, 3}
    assert "gone.png" in decoded.errors[3]
