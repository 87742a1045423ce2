"""load_dataset: parquet -> validated, decoded, split training data."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hsc_jax.data.errors import BadRow, DatasetError, format_bad_rows
from hsc_jax.data.grouping import connected_groups, group_keys
from hsc_jax.data.images import decode_images, parse_image_size
from hsc_jax.data.labels import (
    CLASS_NAMES,
    SPLITS,
    normalise_splits,
    resolve_labels,
    vote_shares,
)
from hsc_jax.data.settings import DEFAULTS, DataSettings
from hsc_jax.data.sources import resolve_sources
from hsc_jax.data.split import assign_splits, copies_across_splits, leaking_rows
from hsc_jax.data.stream import StreamImages, build_or_load_index, choose_cache
from hsc_jax.data.table import Table, read_table

__all__ = ["BadRow", "Dataset", "DatasetError", "SplitData", "load_dataset"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitData:
    """One split's examples at the model's size: decoded once (ram) or per batch (stream)."""

    images: np.ndarray | StreamImages  # (N, H, W, 3) uint8 RGB; images[rows] gives an array
    labels: np.ndarray  # (N,) int32 class ids: 0 = no_smiling, 1 = smiling
    paths: list[str]  # image_path, or "<parquet>#row<i>" for embedded images without one
    groups: np.ndarray  # (N,) int64 group ids, shared across splits of one dataset
    rows: np.ndarray  # (N,) int64 row positions in the parquet file
    # (N,) float32 share of annotators who saw a smile, when the dataset has vote columns
    vote_shares: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> np.ndarray:
        """(num_classes,) int64 examples per class."""
        return np.bincount(self.labels, minlength=len(CLASS_NAMES))


@dataclass(frozen=True)
class Dataset:
    source: Path  # the parquet file read, or the folder / glob of its shards
    image_size: tuple[int, int]  # (H, W) of every cached image
    splits: dict[str, SplitData]  # "train", "val", "test", always all three (possibly empty)
    class_names: tuple[str, ...] = CLASS_NAMES  # index = class id
    skipped_rows: int = 0  # bad rows left out under skip_bad_rows
    bad_rows: tuple[BadRow, ...] = ()  # what was wrong with them
    dropped_split_rows: int = 0  # rows whose split value is none of the known names
    dropped_split_values: dict[str, int] = field(default_factory=dict)  # value -> rows dropped
    followed_rows: int = 0  # unassigned rows that joined their group's explicit split
    ratio_rows: int = 0  # unassigned rows split by the ratios, whole groups at a time
    num_groups: int = 0  # groups after joining byte-identical images
    copies_of_train: dict[str, int] = field(
        default_factory=dict
    )  # val/test rows equal to a train row
    left_out_leaks: int = 0  # rows left out as copies of train rows or label conflicts
    label_disagreements: int = 0  # rows whose class_id (used) and label text differ
    cache: str = "ram"  # where the decoded images live: "ram" or "stream"
    # sha256 of every used row's split, position, label and image bytes: equal digests, equal
    # training data (what the processes of one run compare)
    content_digest: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> str:
        """A few lines for the log: where the data came from and what each split holds."""
        lines = [f"dataset {self.source} at {self.image_size[0]}x{self.image_size[1]}:"]
        for name, split in self.splits.items():
            counts = ", ".join(
                f"{cls} {n}" for cls, n in zip(self.class_names, split.class_counts(), strict=True)
            )
            lines.append(f"  {name}: {len(split)} ({counts})")
        lines.append(f"  {self.num_groups} groups; {self.ratio_rows} rows split by ratio")
        return "\n".join(lines)


def load_dataset(
    path: str | Path,
    image_size: tuple[int, int] | int | str = (48, 48),
    settings: DataSettings = DEFAULTS,
    workers: int | None = None,
    keep_leaks: bool = False,
) -> Dataset:
    """Read, validate, decode and split a dataset (a parquet file, a folder with
    `dataset.parquet` or shards, or a glob of shards). Bad rows raise DatasetError listing them
    unless `settings.skip_bad_rows`.

    `settings.cache` "ram" decodes every image once into memory; "stream" builds (or reuses)
    an on-disk index in the same single pass over the bytes and decodes rows when a batch asks
    for them; "auto" picks ram when the decoded images fit comfortably in memory. The split,
    duplicates and bad rows come out the same in both.

    Val/test rows byte-identical to a train row, and rows whose identical bytes carry both
    labels, are left out (and counted) unless `keep_leaks`: explicit splits can carry such
    leaks, and metrics on them overstate what the model does on unseen faces."""
    dataset = _read_and_split(path, image_size, settings, workers, keep_leaks)
    # The table and the per-row temporaries are gone: hand Arrow's pooled buffers back (on
    # 500,000 rows, over 100 MB that would otherwise stay resident through training).
    pa.default_memory_pool().release_unused()
    return dataset


def _read_and_split(
    path: str | Path,
    image_size: tuple[int, int] | int | str,
    settings: DataSettings,
    workers: int | None,
    keep_leaks: bool,
) -> Dataset:
    size = parse_image_size(image_size)
    cache, why = choose_cache(settings.cache, resolve_sources(path), size)
    log.info("%s: decoded images in %s", why, cache)
    table = read_table(path, with_image_bytes=cache == "ram")
    frame = table.frame

    split_names, dropped = _normalise_splits(table)
    kept = np.array([i for i, s in enumerate(split_names) if s is not None], dtype=np.int64)
    kept_frame = frame.iloc[kept].reset_index(drop=True)

    labels = resolve_labels(kept_frame)
    shares = vote_shares(kept_frame, labels.labels)
    images = _ImageFacts.read(
        table, kept, kept_frame, size, cache, settings.stream_cache_dir, workers
    )
    bad_rows = _bad_rows(table, kept, labels.errors, images.errors)
    _report_bad_rows(table.source, bad_rows, settings.skip_bad_rows)
    if labels.disagreements:
        log.warning(
            "%s: %d rows have a class_id that disagrees with their label text; class_id was used",
            table.source,
            labels.disagreements,
        )

    # From here on only good rows: `good` holds their positions among the kept rows.
    bad_positions = np.array([*labels.errors, *images.errors], dtype=np.int64)
    good = np.setdiff1d(np.arange(len(kept)), bad_positions)
    good_md5 = [images.md5[p] for p in good]
    group_ids = connected_groups(group_keys(kept_frame.iloc[good]), good_md5)
    assignment = assign_splits(
        [split_names[kept[p]] for p in good],
        group_ids,
        labels.labels[good],
        settings.ratios,
        settings.seed,
    )
    copies = copies_across_splits(assignment.splits, good_md5)
    leaks = leaking_rows(assignment.splits, good_md5, labels.labels[good])
    if keep_leaks and any(copies.values()):
        log.warning("%s: rows with byte-identical copies in train (kept): %s", table.source, copies)
    elif leaks.drop.any():
        log.warning(
            "%s: left out %d val/test rows byte-identical to train rows %s and %d rows whose "
            "identical bytes carry both labels",
            table.source,
            sum(leaks.train_copies.values()),
            leaks.train_copies,
            leaks.label_conflicts,
        )
    keep = np.ones(len(good), dtype=bool) if keep_leaks else ~leaks.drop

    splits = {}
    for name in SPLITS:
        members = np.flatnonzero((assignment.splits == name) & keep)
        positions = good[members]
        splits[name] = SplitData(
            images=images.take(positions),
            labels=labels.labels[positions].astype(np.int32),
            vote_shares=None if shares is None else shares[positions],
            # Made last, after the per-row temporaries, so that on large sets the path strings
            # do not pin the memory those leave behind.
            paths=_row_paths(table, kept[positions]),
            groups=group_ids[members],
            rows=kept[positions],
        )
    if len(splits["train"]) == 0:
        counts = ", ".join(f"{name} {len(data)}" for name, data in splits.items())
        hint = (
            f"; {assignment.ratio_groups} groups were split by ratio: with so few groups, "
            "raise --train_ratio"
            if assignment.ratio_groups
            else ""
        )
        raise DatasetError(
            f"{table.source}: the train split is empty ({counts}; "
            f"{len(bad_rows)} bad rows skipped, {dropped.total()} rows with unknown splits{hint})"
        )
    dataset = Dataset(
        source=table.source,
        image_size=size,
        splits=splits,
        skipped_rows=len(bad_rows),
        bad_rows=tuple(bad_rows),
        dropped_split_rows=dropped.total(),
        dropped_split_values=dict(dropped),
        followed_rows=assignment.followed_rows,
        ratio_rows=assignment.ratio_rows,
        num_groups=int(group_ids.max()) + 1 if len(group_ids) else 0,
        copies_of_train=copies,
        left_out_leaks=0 if keep_leaks else int(leaks.drop.sum()),
        label_disagreements=labels.disagreements,
        cache=cache,
        content_digest=_content_digest(splits, good_md5),
    )
    log.info("%s", dataset.summary())
    return dataset


def _normalise_splits(table: Table) -> tuple[list[str | None], Counter[str]]:
    """Canonical split per row (None: left out), and the unknown values with their counts."""
    raw_splits = _column(table.frame, "split")
    split_names, ignored = normalise_splits(raw_splits)
    if ignored:
        log.warning(
            "%s: no split value is train/val/test/unassigned (e.g. %r); splitting by group",
            table.source,
            raw_splits[0],
        )
    dropped = Counter(str(v) for v, s in zip(raw_splits, split_names, strict=True) if s is None)
    if dropped:
        log.warning(
            "%s: left out %d rows with unknown split values %s",
            table.source,
            dropped.total(),
            dict(dropped),
        )
    return split_names, dropped


def _content_digest(splits: dict[str, SplitData], md5: list[str]) -> str:
    digest = hashlib.sha256()
    for name, split in splits.items():
        digest.update(f"{name}:{len(split)}\n".encode())
        digest.update(split.rows.astype(np.int64).tobytes())
        digest.update(split.labels.astype(np.int32).tobytes())
    digest.update("".join(md5).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _ImageFacts:
    """Per kept row: the md5 of its bytes and what is wrong with its image; `take` gives a
    split's images, from the decoded array (ram) or the stream index (stream)."""

    md5: list[str]
    errors: dict[int, str]  # kept position -> problem
    take: Callable[[np.ndarray], np.ndarray | StreamImages]

    @classmethod
    def read(
        cls,
        table: Table,
        kept: np.ndarray,
        kept_frame: pd.DataFrame,
        size: tuple[int, int],
        cache: str,
        stream_cache_dir: str | Path | None,
        workers: int | None,
    ) -> _ImageFacts:
        if cache == "ram":
            decoded = decode_images(
                _column(kept_frame, "image_bytes"),
                _column(kept_frame, "image_path"),
                table.base_dir,
                size,
                workers,
            )
            return cls(decoded.md5, decoded.errors, lambda p: _take_rows(decoded.images, p))
        index = build_or_load_index(table, stream_cache_dir, workers)
        errors = {p: index.errors[int(r)] for p, r in enumerate(kept) if int(r) in index.errors}

        def take(positions: np.ndarray) -> StreamImages:
            records = kept[positions]
            return StreamImages(index.store, records, size, index.grey[records])

        return cls([index.md5[int(r)] for r in kept], errors, take)


def _take_rows(array: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """array[positions], as a view when they are one contiguous run (files stored split by split,
    like FERPlus), which spares copying the whole image cache."""
    # Positions are ascending and unique, so spanning exactly len(positions) means contiguous.
    if len(positions) and positions[-1] - positions[0] + 1 == len(positions):
        return array[positions[0] : positions[-1] + 1]
    return array[positions]


def _report_bad_rows(source: Path, bad_rows: list[BadRow], skip_bad_rows: bool) -> None:
    if bad_rows and not skip_bad_rows:
        raise DatasetError(
            f"{len(bad_rows)} bad row(s) in {source}:\n{format_bad_rows(bad_rows)}\n"
            "Fix or remove these rows, or pass --skip_bad_rows to leave them out.",
            bad_rows,
        )
    if bad_rows:
        log.warning(
            "%s: skipped %d bad rows:\n%s", source, len(bad_rows), format_bad_rows(bad_rows)
        )


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def _row_paths(table: Table, rows: np.ndarray) -> list[str]:
    """image_path where given, else "<parquet>#row<i>": how a row is named in every report."""
    if "image_path" in table.frame.columns:
        given = table.frame["image_path"].iloc[rows].tolist()
    else:
        given = [None] * len(rows)
    return [
        path if isinstance(path, str) and path else table.row_name(int(r))
        for r, path in zip(rows, given, strict=True)
    ]


def _bad_rows(table: Table, rows: np.ndarray, *errors_by_position: dict[int, str]) -> list[BadRow]:
    positions = sorted(set().union(*errors_by_position))
    paths = dict(zip(positions, _row_paths(table, rows[positions]), strict=True))
    sharded = len(table.shards) > 1
    return [
        BadRow(
            row=int(rows[p]),
            path=paths[p],
            reason="; ".join(e[p] for e in errors_by_position if p in e),
            # In a sharded set the row number counts over all shards: also say where it is.
            shard_row=table.row_name(int(rows[p])) if sharded else "",
        )
        for p in positions
    ]
