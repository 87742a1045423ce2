"""Bad dataset files, as users make them: the loader names the file, the column or the row, and
odd but valid images load as the contract expects. Every case runs through `load_dataset` in
both caches (ram, stream), through `auto` (which sizes the files first) and `data inspect`."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    BAD_ROW,
    MODES,
    ROWS,
    gif_claiming,
    good_columns,
    jpeg_claiming,
    load,
    png_claiming,
    with_row,
    write,
)
from click.testing import CliRunner
from helpers import child_environment

from hsc_jax.data.cli import data as data_command
from hsc_jax.data.dataset import DatasetError
from hsc_jax.data.inspection import inspect_dataset

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
        env=child_environment(),
    )
    assert done.returncode == 0, done.stderr
    grown_mb, error = done.stdout.strip().splitlines()
    assert "9500x9500 pixels, over the limit" in error and str(bomb) in error
    assert int(grown_mb) < 100


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
        env=child_environment(),
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
