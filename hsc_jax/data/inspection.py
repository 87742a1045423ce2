"""What a dataset file holds and what is wrong with it, without loading it for training."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsc_jax.data.errors import BadRow, format_bad_rows
from hsc_jax.data.grouping import connected_groups, group_keys
from hsc_jax.data.images import decode_images
from hsc_jax.data.labels import CLASS_NAMES, SPLITS, UNASSIGNED, normalise_splits, resolve_labels
from hsc_jax.data.table import read_table

SPLIT_ORDER = (*SPLITS, UNASSIGNED)


@dataclass(frozen=True)
class InspectReport:
    source: Path
    rows: int
    counts: dict[str, dict[str, int]]  # split -> class name -> usable rows (no problems)
    dropped_split_values: dict[str, int]  # unknown split value -> rows left out
    split_column_ignored: bool  # no value was a known split name, so every row is unassigned
    num_groups: int  # groups as load_dataset forms them (provenance + byte-identical copies)
    image_sizes: dict[str, int]  # "HxW grey|rgb|rgba" as stored -> rows
    duplicate_groups: int  # sets of byte-identical images with more than one row
    duplicate_rows: int  # rows in those sets
    duplicate_groups_across_splits: int  # such sets whose rows carry different explicit splits
    copies_of_train: dict[str, int]  # val/test rows whose bytes also appear in train
    label_conflicts: int  # byte-identical sets whose rows carry both labels
    bad_rows: tuple[BadRow, ...]

    def format(self) -> str:
        lines = [f"{self.source}: {self.rows:,} rows"]
        header = f"  {'split':<11}" + "".join(f"{name:>12}" for name in (*CLASS_NAMES, "total"))
        lines.append(header)
        for split, by_class in self.counts.items():
            cells = [by_class.get(name, 0) for name in CLASS_NAMES]
            lines.append(f"  {split:<11}" + "".join(f"{n:>12,}" for n in (*cells, sum(cells))))
        if self.split_column_ignored:
            lines.append("split column ignored: none of its values is a known split name")
        if self.dropped_split_values:
            lines.append(f"left out (unknown split): {self.dropped_split_values}")
        lines.append(f"groups: {self.num_groups:,}")
        sizes = ", ".join(f"{size}: {n:,}" for size, n in self.image_sizes.items())
        lines.append(f"image sizes: {sizes or 'none decoded'}")
        lines.append(
            f"duplicates: {self.duplicate_groups:,} sets of byte-identical images covering "
            f"{self.duplicate_rows:,} rows; {self.duplicate_groups_across_splits:,} span splits; "
            f"{self.label_conflicts:,} carry both labels"
        )
        copies = ", ".join(f"{split} {n:,}" for split, n in self.copies_of_train.items())
        lines.append(f"copies of train images: {copies}")
        if self.bad_rows:
            lines.append(f"problems: {len(self.bad_rows)} bad rows")
            lines.append(format_bad_rows(self.bad_rows))
        else:
            lines.append("problems: none")
        return "\n".join(lines)


def inspect_dataset(path: str | Path, workers: int | None = None) -> InspectReport:
    """Counts, groups, image sizes, duplicates and bad rows of a dataset file.

    Bad rows are reported, not raised; an unreadable file or missing columns raise DatasetError.
    """
    table = read_table(path)
    frame = table.frame
    raw_splits = frame["split"].tolist() if "split" in frame.columns else [None] * len(frame)
    splits, split_column_ignored = normalise_splits(raw_splits)
    labels = resolve_labels(frame)
    decoded = decode_images(
        frame["image_bytes"].tolist() if "image_bytes" in frame.columns else [None] * len(frame),
        frame["image_path"].tolist() if "image_path" in frame.columns else [None] * len(frame),
        table.base_dir,
        image_size=None,
        workers=workers,
    )
    paths = [
        p if isinstance(p, str) and p else f"{table.source}#row{i}"
        for i, p in enumerate(frame.get("image_path", [None] * len(frame)))
    ]
    dropped = [i for i, split in enumerate(splits) if split is None]
    problems = sorted(set(labels.errors) | set(decoded.errors))
    bad_rows = tuple(
        BadRow(i, paths[i], "; ".join(e[i] for e in (labels.errors, decoded.errors) if i in e))
        for i in problems
    )

    # Counted: the rows load_dataset would use, so the table matches what training sees.
    problem_rows = set(problems)
    counts: dict[str, dict[str, int]] = {}
    for split in SPLIT_ORDER:
        rows = [i for i, s in enumerate(splits) if s == split and i not in problem_rows]
        if rows or split in SPLITS:
            class_counts = np.bincount(labels.labels[rows], minlength=len(CLASS_NAMES))
            counts[split] = dict(zip(CLASS_NAMES, map(int, class_counts), strict=True))
    return InspectReport(
        source=table.source,
        rows=len(frame),
        counts=counts,
        split_column_ignored=split_column_ignored,
        dropped_split_values=dict(Counter(str(raw_splits[i]) for i in dropped)),
        num_groups=len(set(connected_groups(group_keys(frame), decoded.md5).tolist())),
        image_sizes=_image_sizes(decoded.shapes, decoded.errors),
        **_duplicates(decoded.md5, splits, labels.labels),
        bad_rows=bad_rows,
    )


def _image_sizes(shapes: np.ndarray, errors: dict[int, str]) -> dict[str, int]:
    kinds = {1: "grey", 2: "grey+alpha", 3: "colour", 4: "colour+alpha"}
    sizes = Counter(
        f"{h}x{w} {kinds.get(c, f'{c} channels')}"
        for i, (h, w, c) in enumerate(shapes.tolist())
        if i not in errors
    )
    return dict(sizes.most_common())


def _duplicates(md5: list[str], splits: list[str | None], labels: np.ndarray) -> dict:
    rows_by_hash: dict[str, list[int]] = defaultdict(list)
    for i, digest in enumerate(md5):
        if digest:
            rows_by_hash[digest].append(i)
    sets = [rows for rows in rows_by_hash.values() if len(rows) > 1]
    explicit = [{splits[i] for i in rows} & set(SPLITS) for rows in sets]
    train_hashes = {md5[i] for i, s in enumerate(splits) if s == "train"}
    return {
        "duplicate_groups": len(sets),
        "duplicate_rows": sum(len(rows) for rows in sets),
        "duplicate_groups_across_splits": sum(len(names) > 1 for names in explicit),
        "copies_of_train": {
            name: sum(1 for i, s in enumerate(splits) if s == name and md5[i] in train_hashes)
            for name in ("val", "test")
        },
        "label_conflicts": sum(len({int(labels[i]) for i in rows} - {-1}) > 1 for rows in sets),
    }
