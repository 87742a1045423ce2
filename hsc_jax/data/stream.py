"""`--data_cache stream`: the encoded images in an on-disk index built once, decoded per batch.

Building the index is the one pass over the bytes that the in-memory cache also makes: every
row's image is read (embedded bytes, else its file), hashed (duplicate detection) and decoded
once to check it (so bad rows are found before training, with the same messages), then
appended still encoded to an ArrayRecord file; nothing decoded is kept. Grain's
`ArrayRecordDataSource` then reads any rows by position, so a batch costs reading and decoding
only its own rows, and memory holds only the batches in flight.

An index lives in a cache folder named after the dataset's files (paths, sizes, modification
times): a resumed run, a later run or a second process on the same host reuses it, and a lock
makes the processes of one host build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hsc_infer.contract import resize_image
from hsc_jax import atomic
from hsc_jax.data.errors import DatasetError
from hsc_jax.data.images import check_row, decode_rgb
from hsc_jax.data.table import Table, open_parquet

log = logging.getLogger(__name__)

# Bump when the index layout or the row check changes: old indexes are then rebuilt.
INDEX_VERSION = 1
STORE_FILE = "images.array_record"
INDEX_FILE = "index.npz"
COMPLETE_MARKER = "COMPLETE"
# Rows read from parquet per batch while building: a few MB of encoded images at a time.
_BUILD_CHUNK = 1024
# `auto` takes ram when the decoded images plus the encoded ones read with them take at most
# this share of the memory available now: the rest is for JAX, XLA and the input pipeline.
RAM_SHARE = 0.5


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hsc-jax" / "stream"


# --- choosing ram or stream -------------------------------------------------------------------


def encoded_bytes(shards: Sequence[Path]) -> int:
    """Uncompressed size of the image_bytes column over all shards, from parquet metadata."""
    total = 0
    for shard in shards:
        with open_parquet(shard) as parquet:
            metadata = parquet.metadata
        names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
        if "image_bytes" not in names:
            continue
        column = names.index("image_bytes")
        for group in range(metadata.num_row_groups):
            total += metadata.row_group(group).column(column).total_uncompressed_size
    return total


def row_count(shards: Sequence[Path]) -> int:
    total = 0
    for shard in shards:
        with open_parquet(shard) as parquet:
            total += parquet.metadata.num_rows
    return total


def choose_cache(
    mode: str, shards: Sequence[Path], image_size: tuple[int, int], available: int | None = None
) -> tuple[str, str]:
    """("ram" or "stream", why) for --data_cache `mode` on this dataset and this machine."""
    if mode in ("ram", "stream"):
        return mode, f"--data_cache {mode}"
    if mode != "auto":
        raise DatasetError(f"--data_cache must be ram, stream or auto, got {mode!r}")
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    decoded = row_count(shards) * image_size[0] * image_size[1] * 3
    needed = decoded + encoded_bytes(shards)
    fits = needed <= RAM_SHARE * available
    why = (
        f"--data_cache auto: the images need about {needed / 2**30:.2f} GiB in memory "
        f"({decoded / 2**30:.2f} GiB decoded), {available / 2**30:.1f} GiB available"
    )
    return ("ram" if fits else "stream"), why


# --- the index ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamIndex:
    """What building the index learnt about every row of the table, and where its bytes are."""

    folder: Path
    md5: list[str]  # per table row: hex digest of the encoded bytes ("" where unreadable)
    errors: dict[int, str]  # table row -> what is wrong with its image
    grey: np.ndarray  # (N,) bool: the image carries no colour (R == G == B)

    @property
    def store(self) -> Path:
        return self.folder / STORE_FILE


def fingerprint(shards: Sequence[Path]) -> str:
    """Names a dataset's files as they are now: another file, size or modification time (a
    rewritten shard) gives another index."""
    digest = hashlib.sha256(f"hsc-jax stream index {INDEX_VERSION}\n".encode())
    for shard in shards:
        stat = shard.stat()
        # fsencode: a file name need not be UTF-8
        digest.update(os.fsencode(shard.resolve()))
        digest.update(f"\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def build_or_load_index(
    table: Table, cache_dir: str | Path | None = None, workers: int | None = None
) -> StreamIndex:
    """The stream index of `table`, built on first use (once per host, under a file lock)."""
    cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = cache_dir / fingerprint(table.shards)
    if not _is_complete(folder):
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(folder.with_name(folder.name + ".lock")):
            if not _is_complete(folder):  # another process may have built it meanwhile
                log.info("building the stream index of %s in %s", table.source, folder)
                with atomic.atomic_path(folder) as temporary:
                    temporary.mkdir()
                    _build(table, temporary, workers)
    index = _load(folder)
    if len(index.md5) != len(table.frame):
        raise DatasetError(
            f"the stream index {folder} holds {len(index.md5)} rows but {table.source} has "
            f"{len(table.frame)}; delete the folder to rebuild it"
        )
    return index


def _is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(table: Table, folder: Path, workers: int | None) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    count = len(table.frame)
    paths = table.frame["image_path"].tolist() if "image_path" in table.frame else [None] * count
    md5 = [""] * count
    grey = np.zeros(count, dtype=bool)
    errors: dict[int, str] = {}
    base_dir = table.base_dir
    # group_size 1: every record is its own chunk, what random access by position needs.
    writer = ArrayRecordWriter(str(folder / STORE_FILE), "group_size:1")
    workers = workers or min(8, os.cpu_count() or 1)

    def check(item: tuple[int, Any]) -> tuple[bytes, str, bool, str | None]:
        row, data = item
        checked = check_row(data, paths[row], base_dir)
        colourless = checked.rgb is not None and _is_grey(checked.rgb)
        return checked.data or b"", checked.md5, colourless, checked.error

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for start, blobs in _encoded_batches(table):
                rows = range(start, start + len(blobs))
                for row, (data, digest, colourless, error) in zip(
                    rows, pool.map(check, zip(rows, blobs, strict=True)), strict=True
                ):
                    writer.write(data)  # record number = table row, also for bad rows
                    md5[row], grey[row] = digest, colourless
                    if error is not None:
                        errors[row] = error
    finally:
        writer.close()
    np.savez(
        folder / INDEX_FILE,
        md5=np.asarray(md5, dtype="S32"),
        grey=grey,
        errors=np.asarray(json.dumps({str(k): v for k, v in errors.items()})),
    )
    atomic.write_text(folder / COMPLETE_MARKER, f"{count} rows\n")
    pa.default_memory_pool().release_unused()  # the row groups read while building


def _encoded_batches(table: Table) -> Iterator[tuple[int, list[bytes | None]]]:
    """(first table row, image_bytes of the next rows) over every shard in order, a few MB at a
    time; rows of a shard without the column come as None (their image_path is read)."""
    for shard, start in zip(table.shards, table.shard_starts[:-1], strict=True):
        start = int(start)
        # A row group that breaks off (a shard truncated since it was listed) names the shard.
        with open_parquet(shard) as parquet:
            if "image_bytes" not in parquet.schema_arrow.names:
                rows = parquet.metadata.num_rows
                for offset in range(0, rows, _BUILD_CHUNK):
                    yield start + offset, [None] * min(_BUILD_CHUNK, rows - offset)
                continue
            offset = 0
            for batch in parquet.iter_batches(batch_size=_BUILD_CHUNK, columns=["image_bytes"]):
                blobs = batch.column(0).to_pylist()
                yield start + offset, blobs
                offset += len(blobs)


def _is_grey(rgb: np.ndarray) -> bool:
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def _load(folder: Path) -> StreamIndex:
    with np.load(folder / INDEX_FILE) as saved:
        md5 = [h.decode() for h in saved["md5"].tolist()]
        grey = saved["grey"].astype(bool)
        errors = {int(k): v for k, v in json.loads(str(saved["errors"])).items()}
    return StreamIndex(folder=folder, md5=md5, errors=errors, grey=grey)


# --- reading ---------------------------------------------------------------------------------


class StreamImages:
    """One split's images, decoded from the index when indexed: `images[rows]` gives a
    (len(rows), H, W, 3) uint8 array equal to what the in-memory cache holds for those rows."""

    dtype = np.dtype(np.uint8)

    def __init__(
        self, store: Path, records: np.ndarray, image_size: tuple[int, int], grey: np.ndarray
    ) -> None:
        self.store = Path(store)
        self.records = np.asarray(records, dtype=np.int64)  # split position -> record number
        self.image_size = tuple(image_size)
        self.grey = np.asarray(grey, dtype=bool)  # per split position
        self._source: Any = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.records), *self.image_size, 3)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: Any) -> np.ndarray:
        records = np.atleast_1d(self.records[key])
        blobs = self._data_source().__getitems__([int(r) for r in records])
        out = np.empty((len(records), *self.image_size, 3), dtype=np.uint8)
        for i, (record, blob) in enumerate(zip(records, blobs, strict=True)):
            rgb = decode_rgb(blob)
            if rgb is None:  # the index checked every image it kept: the file changed since
                raise DatasetError(
                    f"record {record} of {self.store} no longer decodes; delete the index "
                    "folder to rebuild it"
                )
            out[i] = resize_image(rgb, self.image_size)
        return out if np.ndim(self.records[key]) else out[0]

    def _data_source(self) -> Any:
        if self._source is None:
            import grain

            self._source = grain.sources.ArrayRecordDataSource([str(self.store)])
        return self._source

    def all_grey(self) -> bool:
        return bool(len(self.grey)) and bool(self.grey.all())

    def __getstate__(self) -> dict[str, Any]:  # worker processes open their own reader
        return {**self.__dict__, "_source": None}
