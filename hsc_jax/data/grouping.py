"""Which rows derive from one still image: provenance columns joined with byte-identical copies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hsc_jax.data.labels import is_null
from hsc_jax.data.table import GROUP_COLUMNS


def group_keys(frame: pd.DataFrame) -> list[str]:
    """Per row, the first non-null of still_image, group_id, video_id, person_id, else the row.

    Keys carry their column's name so that a video_id never meets an equal person_id by chance.
    """
    keys: list[str | None] = [None] * len(frame)
    for column in GROUP_COLUMNS:
        if column not in frame.columns:
            continue
        values = frame[column].tolist()
        for i, value in enumerate(values):
            if keys[i] is None and not is_null(value) and str(value) != "":
                keys[i] = f"{column}:{value}"
    return [key if key is not None else f"row:{i}" for i, key in enumerate(keys)]


def connected_groups(keys: Sequence[str], md5: Sequence[str]) -> np.ndarray:
    """(N,) int64 group ids, 0..G-1 in order of first appearance.

    Two rows share a group when they share a key or identical image bytes (md5), directly or
    through a chain of other rows, so a duplicate can never sit on the other side of a split.
    """
    count = len(keys)
    parent = list(range(count))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression keeps later finds short
            parent[i], i = root, parent[i]
        return root

    for labels in (keys, md5):
        first_row: dict[str, int] = {}
        for i, label in enumerate(labels):
            if not label:  # rows without bytes (unreadable images) join nothing by md5
                continue
            j = first_row.setdefault(label, i)
            if j != i:
                root_i, root_j = find(i), find(j)
                if root_i != root_j:
                    parent[max(root_i, root_j)] = min(root_i, root_j)
    roots = np.fromiter((find(i) for i in range(count)), dtype=np.int64, count=count)
    _, group_ids = np.unique(roots, return_inverse=True)
    return group_ids.astype(np.int64)
