"""Finding and reading the dataset's parquet file, and checking it has the columns we need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hsc_jax.data.errors import DatasetError

DEFAULT_FILENAME = "dataset.parquet"
# Columns that mark rows as coming from one still image, most specific first.
GROUP_COLUMNS = ("still_image", "group_id", "video_id", "person_id")
IMAGE_COLUMNS = ("image_bytes", "image_path")
LABEL_COLUMNS = ("class_id", "label")
# Everything the data layer reads; other columns (votes, md5, ...) stay on disk.
USED_COLUMNS = ("split", *IMAGE_COLUMNS, *LABEL_COLUMNS, *GROUP_COLUMNS)


@dataclass(frozen=True)
class Table:
    source: Path  # the parquet file itself
    frame: pd.DataFrame  # the used columns that exist, index 0..N-1 = row position in the file

    @property
    def base_dir(self) -> Path:
        """Relative image paths are relative to the parquet's folder."""
        return self.source.parent


def resolve_parquet_path(path: str | Path) -> Path:
    """A parquet file, or a folder holding `dataset.parquet`."""
    path = Path(path).expanduser()
    if path.is_dir():
        candidate = path / DEFAULT_FILENAME
        if not candidate.is_file():
            raise DatasetError(f"{path} is a folder without a {DEFAULT_FILENAME}")
        return candidate.resolve()
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    return path.resolve()


def read_table(path: str | Path) -> Table:
    """Read the used columns of the dataset; a file-level problem raises DatasetError."""
    source = resolve_parquet_path(path)
    try:
        available = pq.read_schema(source).names
        check_columns(available, source)
        columns = [name for name in USED_COLUMNS if name in available]
        frame = pq.read_table(source, columns=columns).to_pandas()
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"cannot read {source} as parquet: {e}") from e
    return Table(source=source, frame=frame.reset_index(drop=True))


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
