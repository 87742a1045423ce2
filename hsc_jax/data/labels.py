"""Split names and class labels as the parquet spells them -> canonical values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hsc_infer.labels import CLASS_NAMES  # index = class id

SPLITS = ("train", "val", "test")
UNASSIGNED = "unassigned"

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "unassigned": UNASSIGNED,
}
_LABEL_TEXTS = {
    CLASS_NAMES[1]: 1,
    "smile": 1,
    CLASS_NAMES[0]: 0,
    "not_smiling": 0,
    "neutral": 0,
}
ACCEPTED_LABEL_TEXTS = tuple(_LABEL_TEXTS)


def normalise_split(value: object) -> str | None:
    """'Training' -> 'train', ... ; null or blank -> 'unassigned'; anything else -> None (dropped).

    A null split says nothing about where the row belongs, so it is treated like `unassigned`
    rather than dropped.
    """
    if is_null(value):
        return UNASSIGNED
    text = str(value).strip().lower()
    if not text:
        return UNASSIGNED
    return _SPLIT_ALIASES.get(text)


def normalise_splits(values: list[object]) -> tuple[list[str | None], bool]:
    """Each value normalised, and whether the column was ignored.

    A column without one known name (fold0, fold1, ...) is no split column at all: dropping
    every row would leave nothing, so all rows become unassigned and are split by group.
    """
    names = [normalise_split(value) for value in values]
    if names and all(name is None for name in names):
        return [UNASSIGNED] * len(names), True
    return names, False


def normalise_label_text(value: object) -> int | None:
    """'Smiling', 'no-smiling', 'Not Smiling', ... -> class id; unknown text -> None."""
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return _LABEL_TEXTS.get(text)


@dataclass(frozen=True)
class ResolvedLabels:
    labels: np.ndarray  # (N,) int32 class ids, -1 where the row has no valid label
    errors: dict[int, str]  # position in the frame -> why its label is invalid
    disagreements: int  # rows whose class_id and label text both exist and differ


def resolve_labels(frame: pd.DataFrame) -> ResolvedLabels:
    """Per row: class_id when present (must be 0 or 1), else the label text."""
    class_ids = _column_or_nulls(frame, "class_id")
    texts = _column_or_nulls(frame, "label")
    has_id = class_ids.notna().to_numpy()
    numeric_ids = pd.to_numeric(class_ids, errors="coerce").to_numpy(dtype=np.float64)
    valid_id = has_id & np.isin(numeric_ids, (0.0, 1.0))
    has_text = texts.notna().to_numpy()
    # Vectorised: the text column repeats a handful of values over tens of thousands of rows.
    # No astype(str): a value that is not UTF-8 arrives as bytes, and is reported as such.
    text_ids = texts[has_text].map(normalise_label_text)
    text_labels = np.full(len(frame), -1, dtype=np.int32)
    text_labels[has_text] = text_ids.fillna(-1).to_numpy(dtype=np.int32)

    labels = np.where(valid_id, np.nan_to_num(numeric_ids), text_labels).astype(np.int32)
    labels[has_id & ~valid_id] = -1
    errors: dict[int, str] = {}
    for i in map(int, np.flatnonzero(labels < 0)):
        if has_id[i]:
            errors[i] = f"class_id {_show(class_ids.iat[i])} is not 0 (no_smiling) or 1 (smiling)"
        elif has_text[i]:
            errors[i] = (
                f"unknown label {texts.iat[i]!r} "
                f"(expected one of {', '.join(ACCEPTED_LABEL_TEXTS)})"
            )
        else:
            errors[i] = "no label: both class_id and label are null"
    disagreements = int(np.sum(valid_id & (text_labels >= 0) & (text_labels != labels)))
    return ResolvedLabels(labels=labels, errors=errors, disagreements=disagreements)


def _show(value: object) -> str:
    """2 rather than np.int64(2) or 2.0; text quoted."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def _column_or_nulls(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    return pd.Series([None] * len(frame), dtype=object)


def is_null(value: object) -> bool:
    """None, NaN, pd.NA or NaT; never true for text or bytes (a blank string is a value)."""
    if isinstance(value, str | bytes):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are values
        return False


def vote_shares(frame: pd.DataFrame, labels: np.ndarray) -> np.ndarray | None:
    """(N,) float32 share of annotators who saw a smile (happiness_votes / total_votes), or
    None when the dataset has no vote columns. A row without usable counts (missing, or a total
    of 0, or a share outside [0, 1]) keeps its hard label, so no row loses its target."""
    if "happiness_votes" not in frame or "total_votes" not in frame:
        return None
    happy = pd.to_numeric(frame["happiness_votes"], errors="coerce").to_numpy(np.float64)
    total = pd.to_numeric(frame["total_votes"], errors="coerce").to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = happy / total
    usable = np.isfinite(share) & (total > 0) & (share >= 0) & (share <= 1)
    return np.where(usable, share, labels).astype(np.float32)
