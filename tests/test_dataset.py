"""load_dataset: validation, bad rows, decoding, and the grouped split."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from hsc_jax.data.dataset import Dataset, DatasetError, load_dataset
from hsc_jax.data.settings import DataSettings


def png(seed: int, size: tuple[int, int] = (8, 8), grey: bool = False) -> bytes:
    """A small random PNG, distinct per seed (equal seeds give byte-identical files)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size if grey else (*size, 3), dtype=np.uint8)
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def write(path: Path, **columns: list) -> Path:
    pd.DataFrame(columns).to_parquet(path)
    return path


def explicit_file(tmp_path: Path, splits: list[str], **extra: list) -> Path:
    return write(
        tmp_path / "data.parquet",
        split=splits,
        image_bytes=[png(i) for i in range(len(splits))],
        class_id=[i % 2 for i in range(len(splits))],
        **extra,
    )


def all_labels(ds: Dataset) -> dict[str, list[int]]:
    return {name: split.labels.tolist() for name, split in ds.splits.items()}


def test_explicit_splits_are_kept_and_decoded_to_rgb_at_size(tmp_path):
    red_bgr = np.zeros((20, 10, 3), dtype=np.uint8)
    red_bgr[..., 2] = 255
    grey = np.full((6, 6), 77, dtype=np.uint8)
    frame = pd.DataFrame(
        {
            "split": ["Training", "VALID", "dev", "testing"],
            "image_bytes": [
                cv2.imencode(".png", red_bgr)[1].tobytes(),
                cv2.imencode(".png", grey)[1].tobytes(),
                png(3),
                png(4),
            ],
            "class_id": [1, 0, 1, 0],
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    ds = load_dataset(tmp_path / "d.parquet", image_size=(8, 12))
    train, val, test = ds.splits["train"], ds.splits["val"], ds.splits["test"]
    assert (len(train), len(val), len(test)) == (1, 2, 1)
    assert train.images.shape == (1, 8, 12, 3) and train.images.dtype == np.uint8
    assert train.images[0, 4, 6].tolist() == [255, 0, 0]  # stored BGR red reads as RGB red
    assert val.images[0].tolist() == np.full((8, 12, 3), 77).tolist()  # grey -> 3 channels
    assert train.labels.dtype == np.int32 and val.labels.tolist() == [0, 1]
    assert val.rows.tolist() == [1, 2]
    assert train.paths == [f"{ds.source}#row0"]
    assert ds.ratio_rows == 0 and ds.image_size == (8, 12)


def test_folder_with_dataset_parquet_and_image_paths(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(png(1))
    absolute = tmp_path / "b.png"
    absolute.write_bytes(png(2))
    write(
        tmp_path / "dataset.parquet",
        split=["train", "val"],
        image_bytes=[None, None],
        image_path=["images/a.png", str(absolute)],
        label=["smiling", "No_Smiling"],
    )
    ds = load_dataset(tmp_path, image_size=8)
    assert ds.source == (tmp_path / "dataset.parquet").resolve()
    assert ds.splits["train"].paths == ["images/a.png"]
    assert ds.splits["train"].labels.tolist() == [1]
    assert ds.splits["val"].labels.tolist() == [0]


def test_missing_columns_name_what_is_missing(tmp_path):
    no_image = write(tmp_path / "a.parquet", split=["train"], class_id=[0])
    with pytest.raises(DatasetError, match="image_bytes or image_path"):
        load_dataset(no_image)
    no_label = write(tmp_path / "b.parquet", split=["train"], image_bytes=[png(0)])
    with pytest.raises(DatasetError, match="class_id or label"):
        load_dataset(no_label)


def test_unreadable_or_absent_file(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "junk.parquet")
    # A folder of *.parquet files is read as shards: the broken one is named.
    with pytest.raises(DatasetError, match="cannot read .*junk.parquet"):
        load_dataset(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"dataset.parquet or any \*.parquet shard"):
        load_dataset(tmp_path / "empty")


def bad_rows_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "bad.parquet",
        split=["train", "train", "train", "train", "train", "val"],
        image_bytes=[png(0), png(1), png(2), None, b"not an image", png(5)],
        image_path=[None, "x/one.png", None, "missing.png", "x/corrupt.png", None],
        class_id=[0, 2, None, 1, 0, 1],
        label=[None, None, "grinning", None, None, None],
    )


def test_bad_rows_stop_loading_and_are_all_listed(tmp_path):
    with pytest.raises(DatasetError) as caught:
        load_dataset(bad_rows_file(tmp_path))
    message = str(caught.value)
    assert "4 bad row(s)" in message and "bad.parquet" in message
    assert "row 1 (x/one.png): class_id 2 is not 0" in message
    assert "row 2 (" in message and "unknown label 'grinning'" in message
    assert "row 3 (missing.png): image file not found" in message
    assert "row 4 (x/corrupt.png): cannot decode" in message
    assert "--skip_bad_rows" in message
    assert [bad.row for bad in caught.value.bad_rows] == [1, 2, 3, 4]


def test_skip_bad_rows_reports_the_count(tmp_path, caplog):
    ds = load_dataset(bad_rows_file(tmp_path), settings=DataSettings(skip_bad_rows=True))
    assert ds.skipped_rows == 4
    assert [bad.row for bad in ds.bad_rows] == [1, 2, 3, 4]
    assert ds.splits["train"].rows.tolist() == [0]
    assert ds.splits["val"].rows.tolist() == [5]
    assert "skipped 4 bad rows" in caplog.text


def test_long_lists_of_bad_rows_are_cut(tmp_path):
    path = write(tmp_path / "d.parquet", image_bytes=[png(0)] * 30, class_id=[7] * 30)
    with pytest.raises(DatasetError, match=r"\.\.\. and 10 more"):
        load_dataset(path)


def test_empty_train_split_names_the_file_and_counts(tmp_path):
    path = explicit_file(tmp_path, ["val", "test", "holdout"])
    with pytest.raises(DatasetError, match=r"data\.parquet: the train split is empty") as caught:
        load_dataset(path)
    assert "train 0, val 1, test 1" in str(caught.value)
    assert "1 rows with unknown splits" in str(caught.value)


def test_unknown_split_values_are_left_out_and_counted(tmp_path):
    ds = load_dataset(explicit_file(tmp_path, ["train", "holdout", "HOLDOUT", "extra", "val"]))
    assert ds.dropped_split_rows == 3
    assert ds.dropped_split_values == {"holdout": 1, "HOLDOUT": 1, "extra": 1}
    assert len(ds.splits["train"]) == 1 and len(ds.splits["val"]) == 1


def test_split_column_without_known_names_means_a_grouped_split(tmp_path):
    ds = load_dataset(explicit_file(tmp_path, ["fold0", "fold1"] * 10))
    assert ds.dropped_split_rows == 0 and ds.ratio_rows == 20
    assert len(ds.splits["train"]) == 16 and len(ds.splits["val"]) == 4


def test_class_id_takes_precedence_over_label_text(tmp_path):
    path = write(
        tmp_path / "d.parquet",
        split=["train"] * 3,
        image_bytes=[png(0), png(1), png(2)],
        class_id=[1, None, 0],
        label=["no_smiling", "smile", "neutral"],
    )
    ds = load_dataset(path)
    assert ds.splits["train"].labels.tolist() == [1, 1, 0]
    assert ds.label_disagreements == 1


def test_unassigned_rows_follow_their_groups_split(tmp_path):
    path = write(
        tmp_path / "d.parquet",
        split=["val", "unassigned", None, "train", "train", "unassigned", "test", "val", ""],
        image_bytes=[png(i) for i in range(9)],
        class_id=[0, 1, 0, 1, 0, 1, 0, 1, 0],
        still_image=["a", "a", "a", None, None, None, "c", "c", "c"],
        video_id=[None, None, None, "v", "v", "v", "w", "w", "w"],
    )
    # Group "a": val. Group video "v": train. Group "c": test 1, val 1 -> tie goes to val.
    ds = load_dataset(path, settings=DataSettings(train_ratio=0.0, val_ratio=0.0, test_ratio=1.0))
    assert ds.splits["val"].rows.tolist() == [0, 1, 2, 7, 8]
    assert ds.splits["train"].rows.tolist() == [3, 4, 5]
    assert ds.splits["test"].rows.tolist() == [6]
    assert ds.followed_rows == 4 and ds.ratio_rows == 0


def test_byte_identical_images_share_a_group(tmp_path):
    same = png(99)
    path = write(
        tmp_path / "d.parquet",
        split=["val", "unassigned", "unassigned", "unassigned"] + ["unassigned"] * 20,
        image_bytes=[same, same, png(1), png(1)] + [png(10 + i) for i in range(20)],
        class_id=[0] * 24,
        group_id=[f"g{i}" for i in range(24)],
    )
    for seed in range(5):
        ds = load_dataset(path, settings=DataSettings(seed=seed, train_ratio=0.5, val_ratio=0.5))
        assert 1 in ds.splits["val"].rows  # its copy is in val, so it follows val
        where = {name: set(split.rows.tolist()) for name, split in ds.splits.items()}
        assert any({2, 3} <= rows for rows in where.values())
        assert ds.num_groups == 22


def test_copies_of_train_rows_leave_val_and_test(tmp_path, caplog):
    same = png(7)
    path = write(
        tmp_path / "d.parquet",
        split=["train", "val", "test", "test"],
        image_bytes=[same, same, same, png(8)],
        class_id=[0, 0, 0, 1],
    )
    ds = load_dataset(path)
    assert ds.copies_of_train == {"val": 1, "test": 1}
    assert [len(s) for s in ds.splits.values()] == [1, 0, 1]
    assert ds.splits["test"].rows.tolist() == [3] and ds.left_out_leaks == 2
    assert "byte-identical to train rows" in caplog.text


def test_identical_bytes_with_both_labels_are_left_out_everywhere(tmp_path):
    same = png(7)
    path = write(
        tmp_path / "d.parquet",
        split=["train", "train", "train", "test"],
        image_bytes=[same, same, png(8), png(9)],
        class_id=[0, 1, 1, 0],
    )
    ds = load_dataset(path)
    assert ds.splits["train"].rows.tolist() == [2] and ds.left_out_leaks == 2


def test_keep_leaks_keeps_explicit_splits_as_they_are(tmp_path, caplog):
    same = png(7)
    path = write(
        tmp_path / "d.parquet",
        split=["train", "val", "test", "test"],
        image_bytes=[same, same, same, png(8)],
        class_id=[0, 0, 1, 1],
    )
    ds = load_dataset(path, keep_leaks=True)
    assert [len(s) for s in ds.splits.values()] == [1, 1, 2] and ds.left_out_leaks == 0
    assert "byte-identical copies in train (kept)" in caplog.text


def ratio_file(tmp_path: Path, count: int = 600) -> Path:
    return write(
        tmp_path / "d.parquet",
        image_bytes=[png(i, size=(2, 2)) for i in range(count)],
        class_id=[int(i % 3 == 0) for i in range(count)],
        person_id=[f"p{i // 3}" for i in range(count)],  # groups of 3 rows
    )


def test_ratios_are_honoured_and_deterministic_in_seed(tmp_path):
    path = ratio_file(tmp_path)
    ds = load_dataset(
        path,
        image_size=2,
        settings=DataSettings(train_ratio=0.6, val_ratio=0.3, test_ratio=0.1, seed=3),
    )
    sizes = {name: len(split) for name, split in ds.splits.items()}
    assert abs(sizes["train"] - 360) <= 9 and abs(sizes["val"] - 180) <= 9
    assert abs(sizes["test"] - 60) <= 9
    assert ds.ratio_rows == 600 and ds.num_groups == 200
    again = load_dataset(
        path,
        image_size=2,
        settings=DataSettings(train_ratio=0.6, val_ratio=0.3, test_ratio=0.1, seed=3),
    )
    assert all_labels(again) == all_labels(ds)
    assert all((again.splits[n].rows == ds.splits[n].rows).all() for n in ("train", "val", "test"))
    other = load_dataset(
        path,
        image_size=2,
        settings=DataSettings(train_ratio=0.6, val_ratio=0.3, test_ratio=0.1, seed=4),
    )
    assert other.splits["val"].rows.tolist() != ds.splits["val"].rows.tolist()
    # Cut per class: each split keeps roughly the 1:2 smiling mix.
    assert abs(ds.splits["val"].labels.mean() - 1 / 3) < 0.05


def test_zero_ratio_split_stays_empty(tmp_path):
    ds = load_dataset(ratio_file(tmp_path, 90), image_size=2)
    assert len(ds.splits["test"]) == 0
    assert len(ds.splits["train"]) == 72 and len(ds.splits["val"]) == 18


@pytest.mark.parametrize(
    ("ratios", "pattern"),
    [
        ((0.8, 0.3, 0.0), "must sum to 1"),
        ((1.2, -0.2, 0.0), r"each lie in \[0, 1\]: --train_ratio=1.2, --val_ratio=-0.2"),
        ((0.5, 0.2, 0.2), "--train_ratio/--val_ratio/--test_ratio"),
    ],
)
def test_ratios_are_validated_before_reading(tmp_path, ratios, pattern):
    with pytest.raises(DatasetError, match=pattern):
        load_dataset(
            tmp_path / "not-read.parquet",
            settings=DataSettings(train_ratio=ratios[0], val_ratio=ratios[1], test_ratio=ratios[2]),
        )
