"""The parts of benchmarks/training/vs_reference.py that need no torch: the subset it takes, the
.npz it hands the PyTorch side, the `hsc-jax train` flags it passes and its missing-torch error."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.training import vs_reference as bench
from hsc_jax.data.synth import render_synthetic_dataset
from hsc_jax.train.cli import train as train_command

SPLIT_OF_STILL = ("train", "train", "train", "validation", "Test")  # still_image % 5


@pytest.fixture(scope="module")
def split_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 synthetic crops with explicit splits (whole stills per split, aliases as files spell
    them): 36 train, 12 val, 12 test when the stills cycle evenly."""
    frame = render_synthetic_dataset(60, seed=3, image_size=32, renders_per_still=(2, 2))
    # still_image ids end in the still's number: synth_s000007.
    frame["split"] = [SPLIT_OF_STILL[int(still[-6:]) % 5] for still in frame["still_image"]]
    path = tmp_path_factory.mktemp("bench") / "splits.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_subset_takes_the_train_count_and_the_same_fraction_of_val_and_test():
    splits = ["train"] * 100 + ["validation"] * 20 + ["TEST"] * 10 + ["unassigned"] * 5
    rows = bench.subset_rows(splits, train_faces=50, seed=0)
    taken = [splits[r] for r in rows]
    assert (taken.count("train"), taken.count("validation"), taken.count("TEST")) == (50, 10, 5)
    assert "unassigned" not in taken
    assert np.all(np.diff(rows) > 0)


def test_subset_is_deterministic_in_the_seed():
    splits = ["train"] * 100 + ["val"] * 20 + ["test"] * 20
    first = bench.subset_rows(splits, 30, seed=1)
    np.testing.assert_array_equal(first, bench.subset_rows(splits, 30, seed=1))
    assert not np.array_equal(first, bench.subset_rows(splits, 30, seed=2))


def test_subset_larger_than_the_train_split_takes_everything():
    splits = ["train"] * 10 + ["val"] * 3 + ["test"] * 2
    np.testing.assert_array_equal(bench.subset_rows(splits, 1000, seed=0), np.arange(15))


def test_subset_keeps_one_row_of_a_small_split_and_needs_train_rows():
    splits = ["train"] * 100 + ["val"] * 2
    taken = [splits[r] for r in bench.subset_rows(splits, 10, seed=0)]
    assert taken.count("val") == 1
    with pytest.raises(ValueError, match="no train rows"):
        bench.subset_rows(["val", "test"], 10, seed=0)


def test_write_subset_keeps_every_column_and_the_splits(split_parquet: Path, tmp_path: Path):
    target = tmp_path / "subset.parquet"
    counts = bench.write_subset(split_parquet, target, train_faces=18, seed=0)
    source, subset = pq.read_table(split_parquet), pq.read_table(target)
    assert subset.schema.names == source.schema.names
    assert counts == {"train": 18, "val": 6, "test": 6}
    assert subset.num_rows == sum(counts.values())
    # The rows are the source's own, unchanged.
    source_bytes = set(source.column("image_bytes").to_pylist())
    assert set(subset.column("image_bytes").to_pylist()) <= source_bytes


def test_npz_holds_the_subset_as_the_trainer_decodes_it(split_parquet: Path, tmp_path: Path):
    parquet, npz = tmp_path / "subset.parquet", tmp_path / "subset.npz"
    taken = bench.write_subset(split_parquet, parquet, train_faces=18, seed=0)
    used = bench.write_npz(parquet, npz)
    assert used == taken  # synthetic renders have no byte-identical copies to leave out
    with np.load(npz) as data:
        assert data["images"].shape == (sum(used.values()), *bench.IMAGE_SIZE, 3)
        assert data["images"].dtype == np.uint8
        assert {name: int(np.sum(data["split"] == name)) for name in used} == used
        assert set(np.unique(data["labels"])) <= {0, 1}
    labels = pq.read_table(parquet, columns=["split", "class_id"]).to_pandas()
    expected = labels[labels.split == "train"].class_id.to_numpy()
    with np.load(npz) as data:
        np.testing.assert_array_equal(data["labels"][data["split"] == "train"], expected)


def test_the_jax_command_passes_flags_that_hsc_jax_train_accepts(tmp_path: Path):
    args = argparse.Namespace(size="s", batch_size=256, epochs=2, recompute="none")
    command = bench.jax_command(tmp_path / "subset.parquet", tmp_path / "run", args)
    assert command[:4] == [sys.executable, "-m", "hsc_jax", "train"]
    params = train_command.make_context("train", command[4:]).params
    assert params["train_resampling"] == "balanced"
    assert (params["size"], params["batch_size"], params["epochs"]) == ("s", 256, 2)
    assert (params["device"], params["recompute"]) == ("cpu", "none")


def test_the_torch_command_runs_the_reference_script_under_the_given_python(tmp_path: Path):
    args = argparse.Namespace(size="p", batch_size=32, epochs=1, torch_python="/opt/py")
    command = bench.torch_command(tmp_path / "subset.npz", tmp_path / "run", args)
    assert command[:3] == ["/opt/py", "-m", bench.TORCH_MODULE]
    assert command[-2:] == ["--layout", "channels_last"]
    script_path = Path(importlib.util.find_spec(bench.TORCH_MODULE).origin)
    nchw = bench.torch_command(tmp_path / "subset.npz", tmp_path / "run", args, layout="nchw")
    assert nchw[-2:] == ["--layout", "nchw"]
    # The script accepts every layout the benchmark may ask for.
    script = script_path.read_text()
    assert all(f'"{layout}":' in script for layout in bench.TORCH_LAYOUTS)


def test_a_missing_torch_interpreter_names_the_flag_and_the_install(tmp_path: Path):
    with pytest.raises(SystemExit) as raised:
        bench.check_torch_python(str(tmp_path / "no-python"))
    assert "--torch_python" in str(raised.value)
    assert bench.TORCH_INSTALL in str(raised.value)


def test_an_interpreter_without_torch_is_refused():
    # The project's interpreter has no torch: CI never installs it.
    if _has_torch():
        pytest.skip("this interpreter has torch")
    with pytest.raises(SystemExit, match="cannot import torch"):
        bench.check_torch_python(sys.executable)


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def test_keep_takes_a_new_or_empty_folder_only(tmp_path: Path):
    bench.check_keep_folder(None)
    bench.check_keep_folder(tmp_path / "new")
    bench.check_keep_folder(tmp_path)  # empty
    (tmp_path / "jax-compilation-cache").mkdir()
    with pytest.raises(SystemExit, match="--keep .*new or empty folder"):
        bench.check_keep_folder(tmp_path)
