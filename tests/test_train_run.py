"""The trainer end to end with a tiny fake model: outputs, exact resume, refusals, crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fakes import tiny_config, tiny_model_factory

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train.trainer import ResumeError, train

# Whole training runs: left out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "synthetic.parquet"
    write_synthetic_parquet(path, 200, seed=0)
    return path


def _train(parquet: Path, output_dir: Path, **overrides) -> dict:
    return train(tiny_config(parquet, output_dir, **overrides), model_factory=tiny_model_factory)


@pytest.fixture(scope="module")
def two_epochs(parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output_dir = tmp_path_factory.mktemp("runs") / "two"
    _train(parquet, output_dir, epochs=2)
    return output_dir


@pytest.fixture(scope="module")
def three_epochs(parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output_dir = tmp_path_factory.mktemp("runs") / "three"
    _train(parquet, output_dir, epochs=3)
    return output_dir


def _history(run: Path) -> list[dict]:
    return json.loads((run / "history.json").read_text())


def test_a_run_writes_every_output(two_epochs: Path):
    names = {p.name for p in two_epochs.iterdir()}
    assert {"hsc_epoch_0001", "hsc_epoch_0002", "history.json", "summary.json"} <= names
    assert {"test_predictions.csv", "train.log"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert any(n.startswith("hsc_best_epoch0001_f1_") for n in names)
    for split in ("train", "val"):
        for kind in ("confusion", "roc"):
            for epoch in (1, 2):
                assert (
                    two_epochs / "diagnostics" / split / f"{kind}_{split}_epoch{epoch:04d}.png"
                ).is_file()
    history = _history(two_epochs)
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]["train"]) == {"loss", "accuracy", "precision", "recall", "f1"}
    assert history[0]["val"] is not None and history[0]["lr"] == pytest.approx(1e-4)
    summary = json.loads((two_epochs / "summary.json").read_text())
    for key in ("best_checkpoint", "best_epoch", "best_accuracy", "best_f1", "best_val_loss"):
        assert key in summary
    assert summary["test_metrics"]["count"] > 0
    assert summary["mixed_precision"] is False and summary["resumed_from"] is None
    header = (two_epochs / "test_predictions.csv").read_text().splitlines()[0]
    assert header == "path,video_name,base_frame,label,logit,prob_smiling"
    meta = ckpt.read_meta(two_epochs / "hsc_epoch_0002")
    assert meta["epoch"] == 2 and meta["label_map"] == {"0": "no_smiling", "1": "smiling"}
    assert meta["contract"]["threshold"] == pytest.approx(meta["val_threshold"]["threshold"])
    assert meta["train_config"]["seed"] == 0 and meta["image_size"] == [48, 48]
    assert "resumed" not in (two_epochs / "train.log").read_text()


def test_training_into_a_run_folder_is_refused(parquet: Path, two_epochs: Path):
    before = sorted(p.name for p in two_epochs.iterdir())
    with pytest.raises(ResumeError, match="already holds checkpoints"):
        _train(parquet, two_epochs, epochs=3)
    assert sorted(p.name for p in two_epochs.iterdir()) == before


def _same_epoch(a: dict, b: dict) -> None:
    for split in ("train", "val"):
        for key, value in a[split].items():
            assert b[split][key] == pytest.approx(value, rel=1e-6, abs=1e-7), (split, key)
    assert a["lr"] == b["lr"]


def test_resume_auto_repeats_an_uninterrupted_run(
    parquet: Path, two_epochs: Path, three_epochs: Path, tmp_path: Path
):
    run = tmp_path / "resumed"
    shutil.copytree(two_epochs, run)
    summary = _train(parquet, run, epochs=3, resume="auto")
    assert summary["resumed_from"].endswith("hsc_epoch_0002")
    resumed, straight = _history(run), _history(three_epochs)
    assert [h["epoch"] for h in resumed] == [1, 2, 3]
    _same_epoch(straight[2], resumed[2])


def test_a_crash_while_saving_loses_only_the_epoch_in_progress(
    parquet: Path, two_epochs: Path, three_epochs: Path, tmp_path: Path
):
    run = tmp_path / "crashed"
    shutil.copytree(two_epochs, run)
    # What a writer killed mid-save leaves: a temporary folder, and (were a rename ever to land
    # early) a checkpoint folder without its COMPLETE marker and with a truncated meta file.
    shutil.copytree(run / "hsc_epoch_0002", run / "hsc_epoch_0003.tmp-4242")
    (run / "hsc_epoch_0003.tmp-4242" / ckpt.COMPLETE_MARKER).unlink()
    shutil.copytree(run / "hsc_epoch_0002", run / "hsc_epoch_0003")
    (run / "hsc_epoch_0003" / ckpt.COMPLETE_MARKER).unlink()
    (run / "hsc_epoch_0003" / ckpt.META_FILE).write_text('{"epoch": 3, "trunc')
    assert ckpt.latest_checkpoint(run).name == "hsc_epoch_0002"
    with pytest.raises(ckpt.CheckpointError, match="incomplete"):
        ckpt.load_checkpoint(run / "hsc_epoch_0003", model_factory=tiny_model_factory)

    _train(parquet, run, epochs=3, resume="auto")
    assert not (run / "hsc_epoch_0003.tmp-4242").exists()
    assert ckpt.is_complete(run / "hsc_epoch_0003")
    _same_epoch(_history(three_epochs)[2], _history(run)[2])


def test_resume_from_an_explicit_checkpoint_drops_later_history(
    parquet: Path, three_epochs: Path, tmp_path: Path
):
    run = tmp_path / "rewind"
    shutil.copytree(three_epochs, run)
    _train(parquet, run, epochs=2, resume=str(run / "hsc_epoch_0001"))
    history = _history(run)
    assert [h["epoch"] for h in history] == [1, 2]
    _same_epoch(_history(three_epochs)[1], history[1])


def test_resume_auto_in_an_empty_folder_starts_fresh(parquet: Path, tmp_path: Path):
    summary = _train(
        parquet,
        tmp_path / "fresh",
        epochs=1,
        resume="auto",
        test_ratio=0.0,
        train_ratio=0.7,
        val_ratio=0.3,
    )
    assert summary["resumed_from"] is None
    assert summary["test_metrics"] is None
    assert not (tmp_path / "fresh" / "test_predictions.csv").exists()


def test_loaded_checkpoint_matches_the_training_state(two_epochs: Path):
    loaded = ckpt.load_checkpoint(two_epochs, model_factory=tiny_model_factory)
    assert loaded.path.name.startswith("hsc_best_epoch")
    assert loaded.contract.input_size == (48, 48)
    assert loaded.contract.colour_mode == "rgb" and loaded.contract.crop_kind == "head"
    assert 0.0 < loaded.contract.threshold <= 1.0
    assert loaded.train_config["epochs"] == 2
    images = np.random.default_rng(0).random((4, 48, 48, 3), dtype=np.float32)
    assert loaded.model(images).shape == (4,)


def test_grey_face_crops_give_a_grey_face_contract(parquet: Path, tmp_path: Path):
    import cv2
    import pandas as pd

    frame = pd.read_parquet(parquet)
    frame["image_bytes"] = [
        cv2.imencode(".png", cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE))[
            1
        ].tobytes()
        for b in frame["image_bytes"]
    ]
    grey = tmp_path / "grey.parquet"
    frame.to_parquet(grey)
    _train(grey, tmp_path / "run", epochs=1, crop_kind="face", crop_margin=0.1)
    loaded = ckpt.load_checkpoint(tmp_path / "run", model_factory=tiny_model_factory)
    contract = loaded.contract
    assert (contract.colour_mode, contract.crop_kind, contract.crop_margin) == ("grey", "face", 0.1)
