"""Odd but valid images load as the contract reads them, and text or file names that are not
UTF-8 are named as bad rows (or load, where they are valid), in both caches."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pytest
from bad_inputs import BAD_ROW, MODES, ROWS, good_columns, load, png, with_row, write
from click.testing import CliRunner

from hsc_jax.data.cli import data as data_command
from hsc_jax.data.dataset import DatasetError
from hsc_jax.data.inspection import inspect_dataset

# --- odd but valid images load as the contract reads them -----------------------------------


def _pil(image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _odd_images() -> dict[str, tuple[bytes, tuple[int, int, int]]]:
    """name -> (encoded image, the RGB every pixel has once decoded and resized)."""
    from PIL import Image as Image

    thin = np.empty((1, 10_000, 3), np.uint8)
    thin[:] = (30, 20, 10)  # BGR
    return {
        "1x10000": (cv2.imencode(".png", thin)[1].tobytes(), (10, 20, 30)),
        "10000x1": (cv2.imencode(".png", thin.transpose(1, 0, 2))[1].tobytes(), (10, 20, 30)),
        # 16 bits per channel: OpenCV keeps the high byte (40000 >> 8 = 156)
        "16-bit colour PNG": (
            cv2.imencode(".png", np.full((5, 7, 3), 40_000, np.uint16))[1].tobytes(),
            (156, 156, 156),
        ),
        "16-bit grey PNG": (
            cv2.imencode(".png", np.full((5, 7), 40_000, np.uint16))[1].tobytes(),
            (156, 156, 156),
        ),
        "CMYK JPEG": (_pil(Image.new("CMYK", (9, 9), (0, 255, 255, 0)), "JPEG"), (255, 0, 0)),
        "GIF": (_pil(Image.new("RGB", (9, 9), (0, 0, 255)), "GIF"), (0, 0, 255)),
        "grey+alpha PNG": (_pil(Image.new("LA", (6, 6), (90, 200)), "PNG"), (90, 90, 90)),
        "palette PNG": (
            _pil(
                Image.new("RGB", (6, 6), (0, 200, 0)).convert("P", palette=Image.Palette.ADAPTIVE),
                "PNG",
            ),
            (0, 200, 0),
        ),
    }


@pytest.mark.parametrize("mode", ("ram", "stream"))
@pytest.mark.parametrize(
    "name",
    [
        "1x10000",
        "10000x1",
        "16-bit colour PNG",
        "16-bit grey PNG",
        "CMYK JPEG",
        "GIF",
        "grey+alpha PNG",
        "palette PNG",
    ],
)
def test_odd_but_valid_images_load_like_any_other(name: str, mode: str, tmp_path: Path):
    data, rgb = _odd_images()[name]
    path = write(tmp_path / "data.parquet", with_row("image_bytes", data))
    dataset = load(path, mode, tmp_path, image_size=(8, 8))
    train = dataset.splits["train"]
    assert dataset.skipped_rows == 0 and len(train) == ROWS - 1
    (position,) = np.flatnonzero(train.rows == BAD_ROW)
    image = np.asarray(train.images[np.array([position])])[0]
    assert image.shape == (8, 8, 3)
    np.testing.assert_allclose(image.reshape(-1, 3), np.tile(rgb, (64, 1)), atol=3)


# --- text and file names that are not UTF-8 ---------------------------------------------------


def _invalid_utf8_text(values: list[bytes]) -> pa.Array:
    """A string column holding bytes that are not UTF-8, as non-validating writers leave it."""
    return pa.array(values, pa.binary()).view(pa.string())


@pytest.mark.parametrize("mode", ("ram", "stream"))
def test_an_image_path_that_is_not_utf8_is_a_bad_row(mode: str, tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    names = [f"face{i}.png".encode() for i in range(ROWS)]
    names[BAD_ROW] = b"face\xff\xfe.png"
    for name, seed in zip(names, range(ROWS), strict=True):
        (images / os.fsdecode(name)).write_bytes(png(seed))
    columns = good_columns()
    del columns["image_bytes"]
    columns["image_path"] = _invalid_utf8_text([b"images/" + name for name in names])
    path = write(tmp_path / "data.parquet", columns)
    with pytest.raises(DatasetError) as caught:
        load(path, mode, tmp_path)
    (bad,) = caught.value.bad_rows
    assert bad.row == BAD_ROW
    assert "image_path b'images/face\\xff\\xfe.png' is not UTF-8 text" in str(caught.value)
    report = inspect_dataset(path, workers=1)
    assert [bad.row for bad in report.bad_rows] == [BAD_ROW]


def test_a_binary_path_column_of_utf8_paths_loads(tmp_path: Path):
    (tmp_path / "images").mkdir()
    paths = [f"images/smile_é{i}.png" for i in range(ROWS)]
    for seed, name in enumerate(paths):
        (tmp_path / name).write_bytes(png(seed))
    columns = good_columns()
    del columns["image_bytes"]
    columns["image_path"] = pa.array([p.encode() for p in paths], pa.binary())
    dataset = load(write(tmp_path / "data.parquet", columns), "ram", tmp_path)
    assert dataset.skipped_rows == 0
    assert dataset.splits["val"].paths == [paths[-1]]


def test_a_label_that_is_not_utf8_is_a_bad_row(tmp_path: Path):
    columns = good_columns()
    del columns["class_id"]
    labels = [b"smiling", b"no_smiling"] * (ROWS // 2)
    labels[BAD_ROW] = b"smil\xffing"
    columns["label"] = _invalid_utf8_text(labels)
    with pytest.raises(DatasetError) as caught:
        load(write(tmp_path / "data.parquet", columns), "ram", tmp_path)
    assert [bad.row for bad in caught.value.bad_rows] == [BAD_ROW]
    assert "unknown label b'smil\\xffing'" in str(caught.value)


def _non_utf8_name(tmp_path: Path, stem: bytes) -> Path:
    path = tmp_path / os.fsdecode(stem + b".parquet")
    try:
        path.write_bytes(b"")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    return path


@pytest.mark.parametrize("mode", MODES)
def test_a_dataset_file_whose_name_is_not_utf8_loads(mode: str, tmp_path: Path):
    path = write(_non_utf8_name(tmp_path, b"faces\xff"), good_columns())
    result = load(path, mode, tmp_path)
    if mode == "inspect":
        assert result.rows == ROWS and not result.bad_rows
    else:
        assert len(result.splits["train"]) == ROWS - 1 and result.skipped_rows == 0


def test_a_broken_file_whose_name_is_not_utf8_is_named(tmp_path: Path):
    path = _non_utf8_name(tmp_path, b"faces\xff")
    path.write_text("not parquet")
    result = CliRunner().invoke(data_command, ["inspect", str(path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: cannot read ") and "faces" in result.output
