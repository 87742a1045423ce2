"""Reading the dataset's parquet file or shards, and checking they have the columns we need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hsc_jax.data.errors import DatasetError
from hsc_jax.data.sources import DEFAULT_FILENAME, describe_sources, resolve_sources

__all__ = ["DEFAULT_FILENAME", "Table", "read_table", "resolve_parquet_path"]

# Columns that mark rows as coming from one still image, most specific first.
GROUP_COLUMNS = ("still_image", "group_id", "video_id", "person_id")
IMAGE_COLUMNS = ("image_bytes", "image_path")
LABEL_COLUMNS = ("class_id", "label")
# Everything the data layer reads; other columns (votes, md5, ...) stay on disk.
USED_COLUMNS = ("split", *IMAGE_COLUMNS, *LABEL_COLUMNS, *GROUP_COLUMNS)


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


def read_table(path: str | Path, with_image_bytes: bool = True) -> Table:
    """Read the used columns of the dataset (every shard, in order); a file-level problem
    raises DatasetError naming the file. Without `with_image_bytes` the encoded images stay on
    disk (the streaming cache reads them shard by shard)."""
    sources = resolve_sources(path)
    frames = []
    starts = [0]
    for source in sources:
        try:
            available = pq.read_schema(source).names
            check_columns(available, source)
            wanted = [n for n in USED_COLUMNS if n in available]
            if not with_image_bytes:
                wanted = [n for n in wanted if n != "image_bytes"]
            frame = pq.read_table(source, columns=wanted).to_pandas()
        except (OSError, pa.ArrowException) as e:
            raise DatasetError(f"cannot read {source} as parquet: {e}") from e
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
