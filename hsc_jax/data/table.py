"""Reading the dataset's parquet file or shards, and checking they have the columns we need."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hsc_jax.data.errors import DatasetError
from hsc_jax.data.sources import DEFAULT_FILENAME, describe_sources, resolve_sources

__all__ = ["DEFAULT_FILENAME", "Table", "open_parquet", "read_table", "resolve_parquet_path"]

# Columns that mark rows as coming from one still image, most specific first.
GROUP_COLUMNS = ("still_image", "group_id", "video_id", "person_id")
IMAGE_COLUMNS = ("image_bytes", "image_path")
LABEL_COLUMNS = ("class_id", "label")
# Optional annotator counts (FERPlus): how many of the annotators saw a smile, out of how many.
VOTE_COLUMNS = ("happiness_votes", "total_votes")
# Everything the data layer reads; other columns (md5, ...) stay on disk.
USED_COLUMNS = ("split", *IMAGE_COLUMNS, *LABEL_COLUMNS, *VOTE_COLUMNS, *GROUP_COLUMNS)
# Columns read as text also when stored as binary (values that are not UTF-8 stay bytes).
TEXT_COLUMNS = ("split", "image_path")


@dataclass(frozen=True)
class Table:
    source: Path  # the parquet file, or the folder / glob its shards came from
    frame: pd.DataFrame  # the used columns that exist, index 0..N-1 = row position over all shards
    shards: tuple[Path, ...] = ()  # the files, in row order (one for a single file)
    # (len(shards) + 1,) first row of each shard, then the row count
    shard_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    @property
    def base_dir(self) -> Path:
        """Relative image paths are relative to the parquet's folder (shards of several folders
        have their relative paths made absolute when read)."""
        return (self.shards[0] if self.shards else self.source).parent

    def row_name(self, row: int) -> str:
        """How reports name a row without an image path: `<file>#row<i>` within its shard."""
        if len(self.shards) <= 1:
            return f"{self.source}#row{row}"
        shard = int(np.searchsorted(self.shard_starts, row, side="right")) - 1
        return f"{self.shards[shard]}#row{row - int(self.shard_starts[shard])}"


def resolve_parquet_path(path: str | Path) -> Path:
    """A single parquet file, or a folder holding `dataset.parquet` (the first shard otherwise)."""
    return resolve_sources(path)[0]


@contextmanager
def open_parquet(path: Path) -> Iterator[pq.ParquetFile]:
    """The parquet file at `path`, for reading inside the block; DatasetError naming the file
    when it is not parquet or breaks off (truncated, corrupt) while being read.

    Opened through a Python file object: pyarrow's own path handling refuses file names that
    are not UTF-8, which the file system allows.
    """
    try:
        with open(path, "rb") as handle, pq.ParquetFile(handle) as parquet:
            yield parquet
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"cannot read {path} as parquet: {e}") from e


def read_table(path: str | Path, with_image_bytes: bool = True) -> Table:
    """Read the used columns of the dataset (every shard, in order); a file-level problem
    raises DatasetError naming the file. Without `with_image_bytes` the encoded images stay on
    disk (the streaming cache reads them shard by shard)."""
    sources = resolve_sources(path)
    frames = []
    starts = [0]
    for source in sources:
        with open_parquet(source) as parquet:
            schema = parquet.schema_arrow
            check_columns(schema.names, source)
            check_column_types(schema, source)
            wanted = [n for n in USED_COLUMNS if n in schema.names]
            if not with_image_bytes:
                wanted = [n for n in wanted if n != "image_bytes"]
            frame = _to_frame(parquet.read(columns=wanted))
        frames.append(_absolute_paths(frame, source) if _mixed_folders(sources) else frame)
        starts.append(starts[-1] + len(frame))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return Table(
        source=describe_sources(path, sources),
        frame=frame.reset_index(drop=True),
        shards=tuple(sources),
        shard_starts=np.asarray(starts, dtype=np.int64),
    )


def _mixed_folders(sources: list[Path]) -> bool:
    return len({s.parent for s in sources}) > 1


def _absolute_paths(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    """Relative image paths of a shard made absolute against its own folder."""
    if "image_path" not in frame.columns:
        return frame
    frame = frame.copy()
    frame["image_path"] = [
        str(source.parent / p) if isinstance(p, str) and p and not Path(p).is_absolute() else p
        for p in frame["image_path"]
    ]
    return frame


def check_columns(available: list[str], source: Path) -> None:
    missing = [
        " or ".join(options)
        for options in (IMAGE_COLUMNS, LABEL_COLUMNS)
        if not any(name in available for name in options)
    ]
    if missing:
        raise DatasetError(
            f"{source} lacks required column(s): {'; '.join(missing)} "
            f"(it has: {', '.join(available) or 'no columns'})"
        )


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_bytes(kind: pa.DataType) -> bool:
    return (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )


# What each read column may hold besides nulls (class_id as text: "0"/"1" are read as numbers).
# Another type is a mistake in the whole column: one message instead of every row listed as bad.
COLUMN_TYPES: dict[str, tuple[tuple[Callable[[pa.DataType], bool], ...], str]] = {
    "image_bytes": ((_is_bytes,), "binary (the encoded PNG/JPEG bytes)"),
    "image_path": ((_is_text, _is_bytes), "text (the image file's path)"),
    "class_id": ((_is_number, _is_text), "integers, 0 = no_smiling and 1 = smiling"),
    "label": ((_is_text,), "text such as smiling or no_smiling (class ids go in class_id)"),
}


def check_column_types(schema: pa.Schema, source: Path) -> None:
    """DatasetError naming the file and the column when a column holds the wrong type."""
    for name, (accepts, expected) in COLUMN_TYPES.items():
        if name not in schema.names:
            continue
        kind = schema.field(name).type
        values = kind.value_type if pa.types.is_dictionary(kind) else kind
        if not pa.types.is_null(values) and not any(accept(values) for accept in accepts):
            raise DatasetError(f"{source}: column {name} holds {kind}; expected {expected}")


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as pandas. Text that is not UTF-8 (which pyarrow refuses to convert) and the
    split and path columns stored as binary are decoded value by value: values that are not
    UTF-8 stay bytes, so the row checks report those rows instead of the whole file failing."""
    as_bytes = [
        name
        for name in table.column_names
        if (name in TEXT_COLUMNS and _is_bytes(table[name].type))
        or (_is_text(table[name].type) and _not_utf8(table[name]))
    ]
    frame = table.drop_columns(as_bytes).to_pandas()
    for name in as_bytes:
        values = table[name].cast(pa.binary()).to_pylist()
        frame[name] = pd.Series([_decode_utf8(v) for v in values], dtype=object)
    return frame[table.column_names]


def _not_utf8(column: pa.ChunkedArray) -> bool:
    try:
        column.validate(full=True)  # checks that every string is UTF-8
    except pa.ArrowInvalid:
        return True
    return False


def _decode_utf8(value: bytes | None) -> str | bytes | None:
    try:
        return value.decode("utf-8") if value is not None else None
    except UnicodeDecodeError:
        return value
