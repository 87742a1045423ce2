"""Bad dataset files, as users make them: the loader names the file, the column or the row, and
odd but valid images load as the contract expects. Every case runs through `load_dataset` in
both caches (ram, stream), through `auto` (which sizes the files first) and `data inspect`."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bad_inputs import gif_claiming, jpeg_claiming, png_claiming
from click.testing import CliRunner

from hsc_jax.data.cli import data as data_command
from hsc_jax.data.dataset import DatasetError, load_dataset
from hsc_jax.data.inspection import inspect_dataset
from hsc_jax.data.settings import DataSettings

REPO = Path(__file__).resolve().parents[1]
ROWS = 6
BAD_ROW = 1  # the row each per-row case spoils


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


def worktree_env() -> dict[str, str]:
    """The environment for a subprocess that must import this checkout's code."""
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


# --- files that are not parquet ------------------------------------------------------------


def _truncated(fraction: float):
    def make(path: Path) -> None:
        data = write(path, good_columns()).read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return make


def _footer_only_intact(path: Path) -> None:
    """The row data overwritten, the footer (schema, row counts) left as it was."""
    data = bytearray(write(path, good_columns()).read_bytes())
    data[4:200] = b"\xab" * 196
    path.write_bytes(bytes(data))


UNREADABLE = {
    "random bytes": lambda path: path.write_bytes(np.random.default_rng(0).bytes(3000)),
    "a text file": lambda path: path.write_text("shopping list: eggs, milk\n"),
    "an empty file": lambda path: path.write_bytes(b""),
    "truncated to half": _truncated(0.5),
    "truncated by a few bytes": _truncated(0.98),
    "row data overwritten": _footer_only_intact,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("damage", list(UNREADABLE))
def test_a_file_that_is_not_parquet_is_named(damage: str, mode: str, tmp_path: Path):
    path = tmp_path / "notes.parquet"
    UNREADABLE[damage](path)
    with pytest.raises(DatasetError, match=f"cannot read {path} as parquet"):
        load(path, mode, tmp_path)


@pytest.mark.parametrize("mode", ("stream", "auto"))
def test_a_broken_shard_among_good_ones_is_named(mode: str, tmp_path: Path):
    write(tmp_path / "part-0.parquet", good_columns())
    (tmp_path / "part-1.parquet").write_text("not parquet")
    with pytest.raises(DatasetError, match=f"cannot read {tmp_path / 'part-1.parquet'}"):
        load(tmp_path, mode, tmp_path)


# --- columns of the wrong type ---------------------------------------------------------------

WRONG_TYPES = {
    "class_id as float lists": ("class_id", [[0.5, 1.0]] * ROWS, "list<element: double>"),
    "class_id as bytes": ("class_id", [b"\x01"] * ROWS, "binary"),
    "image_bytes as ints": ("image_bytes", list(range(ROWS)), "int64"),
    "image_bytes as text": ("image_bytes", ["aGVsbG8="] * ROWS, "string"),
    "image_path as ints": ("image_path", list(range(ROWS)), "int64"),
    "label as ints": ("label", [1, 0] * (ROWS // 2), "int64"),
    "label as float lists": ("label", [[1.0]] * ROWS, "list<element: double>"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_a_column_of_the_wrong_type_is_named(case: str, mode: str, tmp_path: Path):
    column, values, arrow_type = WRONG_TYPES[case]
    columns = good_columns()
    if column == "label":
        del columns["class_id"]  # label is read only without class_id
    columns[column] = values
    path = write(tmp_path / "data.parquet", columns)
    with pytest.raises(DatasetError) as caught:
        load(path, mode, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: column {column} holds {arrow_type}; expected")
    assert "\n" not in message


# --- rows with bad labels or images: each one named, none dropped ----------------------------


BAD_ROWS = {
    "class_id NaN": ("class_id", float("nan"), "no label: both class_id and label are null"),
    "class_id null": ("class_id", None, "no label"),
    "class_id infinite": ("class_id", float("inf"), "class_id inf is not 0"),
    "class_id 0.5": ("class_id", 0.5, "class_id 0.5 is not 0"),
    "class_id 7": ("class_id", 7, "class_id 7 is not 0"),
    "label empty": ("label", "", "unknown label ''"),
    "label null": ("label", None, "no label"),
    "image garbage": ("image_bytes", b"\x00garbage", r"cannot decode the image \(8 bytes"),
    "image empty": ("image_bytes", b"", "no image"),
    "image of 0x0 pixels": ("image_bytes", png_claiming(0, 0), "header says 0x0 pixels"),
    "PNG bomb": ("image_bytes", png_claiming(100_000, 100_000), "100000x100000 pixels, over the"),
    "JPEG bomb": ("image_bytes", jpeg_claiming(65_000, 60_000), "65000x60000 pixels, over the"),
    "GIF bomb": ("image_bytes", gif_claiming(65_535, 65_535), "65535x65535 pixels, over the"),
}


def bad_row_file(tmp_path: Path, case: str) -> tuple[Path, str]:
    column, value, reason = BAD_ROWS[case]
    columns = good_columns()
    if column == "label":
        columns["label"] = ["smiling" if c else "no_smiling" for c in columns.pop("class_id")]
    columns[column][BAD_ROW] = value
    return write(tmp_path / "data.parquet", columns), reason


@pytest.mark.parametrize("mode", ("ram", "stream"))
@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_named_with_its_file_and_reason(case: str, mode: str, tmp_path: Path):
    path, reason = bad_row_file(tmp_path, case)
    with pytest.raises(DatasetError) as caught:
        load(path, mode, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"1 bad row(s) in {path}:")
    assert f"row {BAD_ROW} ({path}#row{BAD_ROW}): " in message
    assert len(caught.value.bad_rows) == 1
    assert caught.value.bad_rows[0].row == BAD_ROW
    assert re.search(reason, message), message


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_skipping_bad_rows_accounts_for_every_row(case: str, tmp_path: Path):
    path, reason = bad_row_file(tmp_path, case)
    dataset = load(path, "ram", tmp_path, skip_bad_rows=True)
    used = sorted(row for split in dataset.splits.values() for row in split.rows.tolist())
    assert used == [row for row in range(ROWS) if row != BAD_ROW]
    assert [bad.row for bad in dataset.bad_rows] == [BAD_ROW]
    report = inspect_dataset(path, workers=1)  # inspect lists it too, without failing
    assert [bad.row for bad in report.bad_rows] == [BAD_ROW]


def test_a_bad_row_in_a_later_shard_names_the_shard_and_its_row(tmp_path: Path):
    write(tmp_path / "part-0.parquet", good_columns())
    write(tmp_path / "part-1.parquet", with_row("image_bytes", png_claiming(100_000, 100_000)))
    for mode in ("ram", "stream"):
        with pytest.raises(DatasetError) as caught:
            load(tmp_path, mode, tmp_path)
        (bad,) = caught.value.bad_rows
        assert bad.row == ROWS + BAD_ROW
        assert f"{tmp_path / 'part-1.parquet'}#row{BAD_ROW}" in str(caught.value)


def test_a_real_decompression_bomb_is_refused_without_decoding_it(tmp_path: Path):
    """9500x9500 grey pixels in 90 KB: refused from its header; decoding it would take over
    500 MB (BGR, then RGB). Measured in a fresh interpreter, whose peak memory is its own."""
    side = 9_500
    packer = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte, then black pixels
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(side, side, pixels, colour=0))
    script = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from hsc_jax.data.images import check_row
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        row = check_row(None, {str(bomb)!r}, Path("."))
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(f"{{grown_mb:.0f}}")
        print(row.error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=worktree_env(),
    )
    assert done.returncode == 0, done.stderr
    grown_mb, error = done.stdout.strip().splitlines()
    assert "9500x9500 pixels, over the limit" in error and str(bomb) in error
    assert int(grown_mb) < 100


# --- odd but valid images load as the contract reads them -----------------------------------


def _pil(image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _odd_images() -> dict[str, tuple[bytes, tuple[int, int, int]]]:
    """name -> (encoded image, the RGB every pixel has once decoded and resized)."""
    Image = pytest.importorskip("PIL.Image")
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


# --- through the command lines, as a user runs them ------------------------------------------


def test_train_on_a_text_file_is_one_error_line(tmp_path: Path):
    """The regression: `--data_cache auto` sized the file with pyarrow before reading it, and
    a file that is not parquet ended in an ArrowInvalid traceback."""
    notes = tmp_path / "notes.parquet"
    notes.write_text("remember to buy milk\n")
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "hsc_jax", "train", "--data_root", str(notes)]
        + ["--output_dir", str(run), "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=worktree_env(),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: cannot read {notes} as parquet: Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file."
    ]
    assert not list(run.glob("hsc_*"))


@pytest.mark.parametrize("damage", ["random bytes", "truncated to half"])
def test_data_inspect_of_a_broken_file_is_one_error_line(damage: str, tmp_path: Path):
    path = tmp_path / "data.parquet"
    UNREADABLE[damage](path)
    result = CliRunner().invoke(data_command, ["inspect", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot read {path} as parquet: ")
    assert result.output.count("\n") == 1
