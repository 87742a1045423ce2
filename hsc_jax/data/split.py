"""Assigning rows to train/val/test: explicit splits kept, whole groups split by ratio."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hsc_jax.data.errors import DatasetError
from hsc_jax.data.labels import SPLITS, UNASSIGNED

RATIO_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SplitRatios:
    train: float = 0.8
    val: float = 0.2
    test: float = 0.0

    def __post_init__(self) -> None:
        values = {"--train_ratio": self.train, "--val_ratio": self.val, "--test_ratio": self.test}
        outside = [f"{flag}={value}" for flag, value in values.items() if not 0.0 <= value <= 1.0]
        if outside:
            raise DatasetError(f"split ratios must each lie in [0, 1]: {', '.join(outside)}")
        total = sum(values.values())
        if abs(total - 1.0) > RATIO_TOLERANCE:
            given = ", ".join(f"{flag}={value}" for flag, value in values.items())
            raise DatasetError(
                f"--train_ratio/--val_ratio/--test_ratio must sum to 1, got {total:g} ({given})"
            )

    def as_tuple(self) -> tuple[float, float, float]:
        return self.train, self.val, self.test


@dataclass(frozen=True)
class SplitAssignment:
    splits: np.ndarray  # (N,) object: "train" / "val" / "test" per row
    followed_rows: int  # unassigned rows that joined their group's explicit split
    ratio_rows: int  # unassigned rows of wholly unassigned groups, split by the ratios
    ratio_groups: int  # how many such groups


def assign_splits(
    explicit: Sequence[str],
    group_ids: np.ndarray,
    labels: np.ndarray,
    ratios: SplitRatios,
    seed: int,
) -> SplitAssignment:
    """Rows with a split keep it; a group's unassigned rows follow its most common split; wholly
    unassigned groups are shuffled (deterministically in `seed`) and cut by the ratios.

    Groups are cut per class (by the group's majority label) so that each split sees roughly the
    dataset's class mix even when a few large groups (long videos) dominate.
    """
    splits = np.asarray(explicit, dtype=object).copy()
    unassigned = splits == UNASSIGNED
    if not unassigned.any():
        return SplitAssignment(splits=splits, followed_rows=0, ratio_rows=0, ratio_groups=0)
    group_ids = np.asarray(group_ids)

    assigned_by_group: dict[int, Counter[str]] = {}
    for group, split in zip(group_ids[~unassigned], splits[~unassigned], strict=True):
        assigned_by_group.setdefault(int(group), Counter())[split] += 1
    followed_rows = 0
    free_groups: list[int] = []
    unassigned_rows_by_group: dict[int, list[int]] = {}
    for row in np.flatnonzero(unassigned):
        unassigned_rows_by_group.setdefault(int(group_ids[row]), []).append(int(row))
    for group, rows in unassigned_rows_by_group.items():
        counts = assigned_by_group.get(group)
        if counts:
            # Most common split; ties go to the earlier of train, val, test.
            splits[rows] = max(SPLITS, key=lambda name: (counts[name], -SPLITS.index(name)))
            followed_rows += len(rows)
        else:
            free_groups.append(group)

    rng = np.random.default_rng(seed)
    for stratum in _strata(free_groups, unassigned_rows_by_group, labels):
        order = rng.permutation(len(stratum))
        shuffled = [stratum[k] for k in order]
        sizes = np.array([len(unassigned_rows_by_group[g]) for g in shuffled], dtype=np.float64)
        midpoints = (np.cumsum(sizes) - sizes / 2) / sizes.sum()
        for group, position in zip(shuffled, midpoints, strict=True):
            splits[unassigned_rows_by_group[group]] = _split_at(position, ratios)
    ratio_rows = sum(len(unassigned_rows_by_group[g]) for g in free_groups)
    return SplitAssignment(
        splits=splits,
        followed_rows=followed_rows,
        ratio_rows=ratio_rows,
        ratio_groups=len(free_groups),
    )


def _strata(
    groups: list[int], rows_by_group: dict[int, list[int]], labels: np.ndarray
) -> list[list[int]]:
    """Groups by majority label (ties count as smiling), each list in ascending group id."""
    by_class: dict[int, list[int]] = {}
    for group in sorted(groups):
        majority = int(np.mean(labels[rows_by_group[group]]) >= 0.5)
        by_class.setdefault(majority, []).append(group)
    return [by_class[k] for k in sorted(by_class)]


def _split_at(position: float, ratios: SplitRatios) -> str:
    """The split whose share of [0, 1) holds `position`; a zero ratio never receives rows."""
    upper = 0.0
    chosen = None
    for name, ratio in zip(SPLITS, ratios.as_tuple(), strict=True):
        upper += ratio
        if ratio > 0:
            chosen = name
            if position < upper:
                return name
    return chosen  # position past the last bound through rounding


def copies_across_splits(splits: np.ndarray, md5: Sequence[str]) -> dict[str, int]:
    """Rows of val and test whose exact bytes also appear in train: the leaks explicit splits
    can carry (FERPlus inherits 231 val and 232 test such rows from FER2013)."""
    md5 = np.asarray(md5, dtype=object)
    train_hashes = set(md5[splits == "train"])
    return {
        name: int(sum(h in train_hashes for h in md5[splits == name])) for name in ("val", "test")
    }


def leaking_rows(splits: np.ndarray, md5: Sequence[str], labels: np.ndarray) -> LeakReport:
    """Rows to leave out so that evaluation is honest: val/test rows whose exact bytes are also
    in train (the model has seen them), and rows whose exact bytes carry both labels anywhere
    (no answer is right). On FERPlus this leaves the 2,904-row leak-free test split."""
    md5 = np.asarray(md5, dtype=object)
    labels = np.asarray(labels)
    train_hashes = set(md5[splits == "train"])
    labels_of_hash: dict[str, set[int]] = {}
    for h, label in zip(md5, labels, strict=True):
        labels_of_hash.setdefault(h, set()).add(int(label))
    conflict = np.array([len(labels_of_hash[h]) > 1 for h in md5], dtype=bool)
    copy = np.array([h in train_hashes for h in md5], dtype=bool) & (splits != "train")
    return LeakReport(
        drop=conflict | copy,
        train_copies={
            name: int(np.sum(copy & ~conflict & (splits == name))) for name in ("val", "test")
        },
        label_conflicts=int(conflict.sum()),
    )


@dataclass(frozen=True)
class LeakReport:
    drop: np.ndarray  # (N,) bool: rows to leave out
    train_copies: dict[str, int]  # val/test rows dropped as byte-identical copies of train rows
    label_conflicts: int  # rows dropped because identical bytes carry both labels
