"""Which parquet files a `--data_root` names: one file, a folder, or a glob of shards.

* a file: that file;
* a folder: its `dataset.parquet` when there is one, else every `*.parquet` in it (shards);
* anything else is read as a glob (`data/part-*.parquet`, quoted so the shell leaves it).

Shards are read in sorted name order, and a row's position counts across them, so the same
files always give the same rows in the same order whichever process or host reads them.
"""

from __future__ import annotations

import glob
from pathlib import Path

from hsc_jax.data.errors import DatasetError

DEFAULT_FILENAME = "dataset.parquet"
SHARD_SUFFIX = ".parquet"
_GLOB_CHARACTERS = frozenset("*?[")


def resolve_sources(path: str | Path) -> list[Path]:
    """The parquet files of a dataset, resolved, in row order; DatasetError when there are none."""
    text = str(path)
    root = Path(text).expanduser()
    if root.is_dir():
        default = root / DEFAULT_FILENAME
        if default.is_file():
            return [default.resolve()]
        shards = sorted(p.resolve() for p in root.iterdir() if _is_shard(p))
        if not shards:
            raise DatasetError(
                f"{root} is a folder without a {DEFAULT_FILENAME} or any *{SHARD_SUFFIX} shard"
            )
        return shards
    if root.is_file():
        return [root.resolve()]
    if _GLOB_CHARACTERS.intersection(text):
        matches = sorted(Path(p).resolve() for p in glob.glob(str(root)) if _is_shard(Path(p)))
        if not matches:
            raise DatasetError(f"the glob {text} matches no {SHARD_SUFFIX} file")
        return matches
    raise DatasetError(f"dataset not found: {root}")


def data_root_exists(path: str | Path) -> bool:
    """True when `path` names something `resolve_sources` can read (a cheap check for flags)."""
    try:
        resolve_sources(path)
    except DatasetError:
        return False
    return True


def describe_sources(path: str | Path, sources: list[Path]) -> Path:
    """What messages call the dataset: the file itself, or the folder or glob of its shards."""
    return sources[0] if len(sources) == 1 else Path(str(path)).expanduser()


def _is_shard(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SHARD_SUFFIX) and not path.name.startswith(".")
