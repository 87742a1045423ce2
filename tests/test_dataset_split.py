"""Grouping and the grouped split as properties: no group ever straddles two splits."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsc_jax.data.dataset import DatasetError, load_dataset
from hsc_jax.data.grouping import connected_groups, group_keys
from hsc_jax.data.settings import DataSettings
from hsc_jax.data.split import SplitRatios, assign_splits


def test_group_key_is_the_first_non_null_provenance_column():
    frame = pd.DataFrame(
        {
            "still_image": ["s", None, None, None, ""],
            "group_id": ["g", "g", None, None, None],
            "video_id": [None, "v", "v", None, None],
            "person_id": ["p", "p", "p", None, "p"],
        }
    )
    assert group_keys(frame) == [
        "still_image:s",
        "group_id:g",
        "video_id:v",
        "row:3",
        "person_id:p",
    ]


def test_connected_groups_join_through_shared_bytes():
    keys = ["a", "a", "b", "c", "d"]
    md5 = ["1", "2", "2", "3", ""]  # row 1 links groups a and b; empty hashes link nothing
    assert connected_groups(keys, md5).tolist() == [0, 0, 0, 1, 2]


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 12),  # group key
        st.integers(0, 15),  # image content (equal -> byte-identical)
        st.sampled_from(["unassigned"] * 4 + ["train", "val", "test"]),
        st.integers(0, 1),  # label
    ),
    min_size=1,
    max_size=60,
)
ratios_strategy = st.sampled_from(
    [
        SplitRatios(),
        SplitRatios(0.7, 0.2, 0.1),
        SplitRatios(0.0, 1.0, 0.0),
        SplitRatios(1 / 3, 1 / 3, 1 / 3),
    ]
)


@settings(max_examples=300, deadline=None)
@given(rows=rows_strategy, ratios=ratios_strategy, seed=st.integers(0, 2**32 - 1))
def test_unassigned_rows_of_a_group_never_straddle_splits(rows, ratios, seed):
    keys = [f"k{key}" for key, _, _, _ in rows]
    md5 = [f"m{content}" for _, content, _, _ in rows]
    explicit = [split for _, _, split, _ in rows]
    labels = np.array([label for *_, label in rows])
    groups = connected_groups(keys, md5)
    result = assign_splits(explicit, groups, labels, ratios, seed).splits

    for row, split in enumerate(explicit):
        assert result[row] == split or split == "unassigned"  # explicit splits are kept
    zero = {
        name for name, r in zip(("train", "val", "test"), ratios.as_tuple(), strict=True) if r == 0
    }
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        given_splits = [explicit[i] for i in members if explicit[i] != "unassigned"]
        free_splits = {result[i] for i in members if explicit[i] == "unassigned"}
        assert len(free_splits) <= 1
        if free_splits and given_splits:
            (joined,) = free_splits
            assert given_splits.count(joined) == max(given_splits.count(s) for s in given_splits)
        elif free_splits:
            assert not free_splits & zero  # a zero ratio never receives rows
    # Identical bytes or keys never end up on two sides when nothing was assigned by hand.
    if all(split == "unassigned" for split in explicit):
        for a in range(len(rows)):
            for b in range(a):
                if keys[a] == keys[b] or md5[a] == md5[b]:
                    assert result[a] == result[b]
    again = assign_splits(explicit, groups, labels, ratios, seed).splits
    assert result.tolist() == again.tolist()


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=30, max_size=80), seed=st.integers(0, 10**6))
def test_ratio_split_stays_near_the_ratios(sizes, seed):
    groups = np.repeat(np.arange(len(sizes)), sizes)
    labels = np.zeros(len(groups), dtype=np.int32)
    ratios = SplitRatios(0.6, 0.3, 0.1)
    result = assign_splits(["unassigned"] * len(groups), groups, labels, ratios, seed).splits
    # Whole groups move, so each split is off by at most about one group's size.
    for name, ratio in zip(("train", "val", "test"), ratios.as_tuple(), strict=True):
        assert abs(np.sum(result == name) - ratio * len(groups)) <= max(sizes)


@pytest.mark.parametrize(
    "bad", [(0.5, 0.5, 0.5), (0.9, 0.0, 0.0), (-0.1, 1.1, 0.0), (2.0, -1.0, 0.0)]
)
def test_split_ratios_reject_bad_values(bad):
    with pytest.raises(DatasetError, match="--train_ratio"):
        SplitRatios(*bad)


def test_split_ratios_allow_rounding_error():
    SplitRatios(0.7, 0.2, 0.1 + 5e-7)


@settings(max_examples=15, deadline=None)
@given(
    structure=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=8, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_loaded_splits_share_no_group(tmp_path_factory, structure, seed):
    """Through load_dataset: the group ids of train, val and test are disjoint."""
    path = tmp_path_factory.mktemp("groups") / "d.parquet"
    pd.DataFrame(
        {
            "image_bytes": [
                cv2.imencode(".png", np.full((2, 2), c, np.uint8))[1].tobytes()
                for _, c in structure
            ],
            "class_id": [c % 2 for _, c in structure],
            "video_id": [f"v{g}" for g, _ in structure],
        }
    ).to_parquet(path)
    # With train_ratio > 0.5 the first group of each class always lands in train.
    ds = load_dataset(
        path,
        image_size=2,
        settings=DataSettings(train_ratio=0.6, val_ratio=0.2, test_ratio=0.2, seed=seed),
    )
    seen = [set(split.groups.tolist()) for split in ds.splits.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert sum(len(split) for split in ds.splits.values()) == len(structure)
