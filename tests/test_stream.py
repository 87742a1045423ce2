"""Sharded datasets and `--data_cache stream`: the same split, duplicates, bad rows, images and
training as the in-memory cache, from an index built once; and `data synth --shards`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fakes import tiny_config, tiny_model_factory

from hsc_jax.data.cli import data
from hsc_jax.data.dataset import DatasetError, load_dataset
from hsc_jax.data.settings import DataSettings
from hsc_jax.data.stream import (
    RAM_SHARE,
    StreamImages,
    build_or_load_index,
    choose_cache,
    fingerprint,
)
from hsc_jax.data.synth import render_synthetic_dataset, shard_name, write_synthetic_shards
from hsc_jax.data.table import read_table
from hsc_jax.train.pipeline import epoch_batches, eval_batches, plan_epoch

SPLIT_SETTINGS = {"train_ratio": 0.6, "val_ratio": 0.2, "test_ratio": 0.2, "seed": 0}


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shards of a synthetic set, plus trouble: a byte-identical copy of a row in another
    shard (a duplicate the grouped split must keep together), a corrupt image and a row whose
    image file does not exist."""
    folder = tmp_path_factory.mktemp("shards") / "set"
    write_synthetic_shards(folder, 240, seed=2, shards=3)
    last = folder / shard_name(2, 3)
    frame = pd.read_parquet(last)
    first = pd.read_parquet(folder / shard_name(0, 3))
    copy = first.iloc[[5]].assign(still_image="copied", person_id="copied")
    broken = frame.iloc[[0, 1]].copy()
    broken["image_bytes"] = [b"not an image", None]
    broken["image_path"] = ["synth/broken.png", "missing/nowhere.png"]
    broken["still_image"] = ["broken_a", "broken_b"]
    pd.concat([frame, copy, broken], ignore_index=True).to_parquet(last)
    return folder


def _load(root: Path | str, cache: str, tmp_path: Path, skip_bad_rows: bool = False) -> object:
    settings = DataSettings(
        cache=cache,
        stream_cache_dir=tmp_path / "index",
        skip_bad_rows=skip_bad_rows,
        **SPLIT_SETTINGS,
    )
    return load_dataset(root, image_size=(32, 32), settings=settings)


def test_stream_and_ram_give_the_same_dataset(shards: Path, tmp_path: Path):
    ram = _load(shards, "ram", tmp_path, skip_bad_rows=True)
    stream = _load(shards, "stream", tmp_path, skip_bad_rows=True)
    assert (ram.cache, stream.cache) == ("ram", "stream")
    assert ram.content_digest == stream.content_digest
    assert ram.skipped_rows == stream.skipped_rows == 2
    assert [str(b) for b in ram.bad_rows] == [str(b) for b in stream.bad_rows]
    assert ram.num_groups == stream.num_groups and ram.left_out_leaks == stream.left_out_leaks
    for name in ("train", "val", "test"):
        a, b = ram.splits[name], stream.splits[name]
        assert isinstance(b.images, StreamImages) and b.images.shape == a.images.shape
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.groups, b.groups)
        assert a.paths == b.paths
        np.testing.assert_array_equal(a.images, b.images[np.arange(len(b))])
        np.testing.assert_array_equal(a.images[3], b.images[3])
        np.testing.assert_array_equal(a.images[2:7], b.images[2:7])
    # The copy (of the first shard's row 5) shares its original's group: one split for both.
    table = read_table(shards, with_image_bytes=False)
    copied = int(np.flatnonzero(table.frame["still_image"] == "copied")[0])
    split_of = {int(r): n for n, s in stream.splits.items() for r in s.rows}
    assert split_of[copied] == split_of[5]


def test_bad_rows_fail_the_same_way_in_both_modes(shards: Path, tmp_path: Path):
    messages = []
    for cache in ("ram", "stream"):
        with pytest.raises(DatasetError) as error:
            _load(shards, cache, tmp_path)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    # Rows are named by their shard and their row within it.
    assert f"{shards / shard_name(2, 3)}" in messages[0] and "nowhere.png" in messages[0]
    assert "cannot decode the image" in messages[0]


def test_resampling_and_training_repeat_the_ram_run(shards: Path, tmp_path: Path):
    from hsc_jax.train.trainer import train

    histories = {}
    for cache in ("ram", "stream"):
        config = tiny_config(
            shards,
            tmp_path / cache,
            epochs=2,
            batch_size=16,
            image_size="32",
            skip_bad_rows=True,
            train_resampling="balanced",
            data_cache=cache,
            stream_cache_dir=str(tmp_path / "index"),
            clahe_p=0.5,
        )
        summary = train(config, model_factory=tiny_model_factory)
        assert summary["dataset"]["cache"] == cache
        histories[cache] = json.loads((tmp_path / cache / "history.json").read_text())
    for a, b in zip(histories["ram"], histories["stream"], strict=True):
        for split in ("train", "val"):
            assert a[split] == b[split]


def test_the_index_is_built_once_and_rebuilt_when_a_shard_changes(tmp_path: Path):
    folder = tmp_path / "set"
    write_synthetic_shards(folder, 30, seed=0, shards=2)
    table = read_table(folder, with_image_bytes=False)
    index = build_or_load_index(table, tmp_path / "index")
    marker = index.folder / "COMPLETE"
    built_at = marker.stat().st_mtime_ns
    again = build_or_load_index(table, tmp_path / "index")
    assert again.folder == index.folder and marker.stat().st_mtime_ns == built_at
    shard = folder / shard_name(1, 2)
    pd.read_parquet(shard).iloc[:-2].to_parquet(shard)
    assert fingerprint(read_table(folder).shards) != index.folder.name
    rebuilt = build_or_load_index(read_table(folder, with_image_bytes=False), tmp_path / "index")
    assert rebuilt.folder != index.folder and len(rebuilt.md5) == 28
    assert not list((tmp_path / "index").glob("*.tmp-*"))


def test_processes_on_one_host_build_the_index_once(tmp_path: Path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from hsc_jax.data import stream

    folder = tmp_path / "set"
    write_synthetic_shards(folder, 20, seed=0, shards=2)
    table = read_table(folder, with_image_bytes=False)
    builds = []
    real_build = stream._build

    def slow_build(*args):
        builds.append(1)
        time.sleep(0.5)  # long enough for the other caller to arrive while this one builds
        real_build(*args)

    monkeypatch.setattr(stream, "_build", slow_build)
    with ThreadPoolExecutor(2) as pool:
        folders = list(
            pool.map(lambda _: build_or_load_index(table, tmp_path / "i").folder, [0, 1])
        )
    assert len(builds) == 1 and folders[0] == folders[1]


def test_auto_takes_ram_when_the_images_fit(tmp_path: Path):
    folder = tmp_path / "set"
    write_synthetic_shards(folder, 20, seed=0, shards=2)
    sources = read_table(folder).shards
    decoded = 20 * 48 * 48 * 3
    assert choose_cache("auto", sources, (48, 48), available=10**9)[0] == "ram"
    mode, why = choose_cache("auto", sources, (48, 48), available=int(decoded / RAM_SHARE))
    assert mode == "stream" and "GiB available" in why
    assert choose_cache("stream", sources, (48, 48))[0] == "stream"


def test_each_process_reads_only_its_rows(shards: Path, tmp_path: Path):
    """A process's batches decode its own slice of each global batch and nothing else."""
    dataset = _load(shards, "stream", tmp_path, skip_bad_rows=True)
    split = dataset.splits["train"]
    read: list[int] = []

    class Spy(StreamImages):
        def __getitem__(self, key):
            read.extend(np.atleast_1d(self.records[key]).tolist())
            return super().__getitem__(key)

    images = Spy(split.images.store, split.images.records, (32, 32), split.images.grey)
    plan = plan_epoch(split.labels, "none", 0, 1, 16)
    rows = slice(8, 16)  # the second of two processes
    for batch, labels in epoch_batches(images, split.labels, plan, rows, 0, 0.0, 2):
        assert batch.shape == (8, 32, 32, 3) and labels.shape == (8,)
    expected = split.images.records[plan.batches[:, 8:16].reshape(-1)]
    assert sorted(read) == sorted(expected.tolist())
    read.clear()
    chunks = list(eval_batches(images, 16, rows, 1))
    assert len(chunks) == -(-len(split) // 16) and all(len(c) == 8 for c in chunks)
    positions = [p for s in range(0, len(split), 16) for p in range(s + 8, min(s + 16, len(split)))]
    assert sorted(read) == sorted(split.images.records[positions].tolist())


def test_a_glob_of_shards_is_a_dataset(tmp_path: Path):
    folder = tmp_path / "set"
    write_synthetic_shards(folder, 40, seed=1, shards=4)
    (folder / "notes.txt").write_text("not data")
    every = _load(folder, "ram", tmp_path)
    two = _load(str(folder / "part-0000[01]-*.parquet"), "ram", tmp_path)
    assert sum(len(s) for s in every.splits.values()) == 40
    assert sum(len(s) for s in two.splits.values()) == 20
    with pytest.raises(DatasetError, match="matches no .parquet file"):
        _load(str(folder / "nothing-*.parquet"), "ram", tmp_path)


def test_synth_shards_are_disjoint_deterministic_and_refuse_strangers(tmp_path: Path):
    first = write_synthetic_shards(tmp_path / "a", 25, seed=3, shards=3)
    assert [rows for _, rows in first] == [9, 8, 8]
    again = write_synthetic_shards(tmp_path / "b", 25, seed=3, shards=3)
    for (a, _), (b, _) in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    frames = [pd.read_parquet(path) for path, _ in first]
    stills = [set(f["still_image"]) for f in frames]
    assert not (stills[0] & stills[1]) and not (stills[1] & stills[2])
    alone = render_synthetic_dataset(8, seed=3, shard=1)
    pd.testing.assert_frame_equal(alone, frames[1])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "other.parquet").write_bytes(b"")
    with pytest.raises(FileExistsError, match="other parquet files"):
        write_synthetic_shards(tmp_path / "c", 10, seed=0, shards=2)


def test_synth_command_writes_shards(tmp_path: Path):
    output = tmp_path / "shards"
    args = [
        "synth",
        "--output",
        str(output),
        "--count",
        "12",
        "--shards",
        "2",
        "--image_size",
        "32",
    ]
    result = CliRunner().invoke(data, args)
    assert result.exit_code == 0, result.output
    assert "wrote 12 rows in 2 shards" in result.output
    assert sorted(p.name for p in output.iterdir()) == [shard_name(0, 2), shard_name(1, 2)]
    image = pd.read_parquet(output / shard_name(0, 2))["image_bytes"].iloc[0]
    assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR).shape == (32, 32, 3)
    result = CliRunner().invoke(data, ["synth", "--output", str(output), "--count", "4"])
    assert result.exit_code != 0 and "is a folder" in result.output
