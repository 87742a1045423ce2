"""The train/predict/evaluate commands through click: a real tiny model end to end, and clear
failures before any training for bad flags, missing files and corrupt images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pandas as pd
import pytest
import test_train_fakes  # noqa: F401  (the shared compilation cache)
from click.testing import CliRunner

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.train.cli import evaluate, predict, train

TINY = ["--base_channels", "8", "--num_blocks", "1", "--arch", "baseline"]


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-data") / "synthetic.parquet"
    write_synthetic_parquet(path, 200, seed=1)
    return path


@pytest.fixture(scope="module")
def trained(parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output_dir = tmp_path_factory.mktemp("cli-runs") / "run"
    args = ["--data_root", str(parquet), "--output_dir", str(output_dir), "--epochs", "1"]
    args += ["--batch_size", "32", "--train_ratio", "0.6", "--val_ratio", "0.2"]
    args += ["--test_ratio", "0.2", "--seed", "0", "--train_resampling", "balanced", *TINY]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "best checkpoint" in result.output
    return output_dir


def test_cli_run_writes_the_outputs(trained: Path):
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["best_epoch"] == 1
    assert Path(summary["best_checkpoint"]).is_dir()
    assert (trained / "test_predictions.csv").is_file()
    assert (trained / "hsc_epoch_0001" / "COMPLETE").is_file()


def test_predict_prints_a_table_and_writes_csv(trained: Path, parquet: Path, tmp_path: Path):
    frame = pd.read_parquet(parquet).head(3)
    folder = tmp_path / "crops" / "nested"
    folder.mkdir(parents=True)
    for i, data in enumerate(frame["image_bytes"]):
        (folder / f"crop_{i}.png").write_bytes(data)
    runner = CliRunner()
    result = runner.invoke(
        predict, ["--checkpoint", str(trained), "--inputs", str(tmp_path / "crops")]
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "prob_smiling" in result.output and "crop_2.png" in result.output
    out_csv = tmp_path / "predictions.csv"
    result = runner.invoke(
        predict,
        [
            "--checkpoint",
            str(trained),
            "--inputs",
            str(folder / "crop_0.png"),
            str(folder / "crop_1.png"),
            "--output",
            str(out_csv),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out_csv)
    assert list(rows.columns) == ["path", "logit", "prob_smiling"] and len(rows) == 2
    assert rows["prob_smiling"].between(0, 1).all()


def test_evaluate_writes_metrics_and_figures(trained: Path, parquet: Path, tmp_path: Path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        evaluate,
        ["--checkpoint", str(trained), "--data_root", str(parquet), "--output_dir", str(out)],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    summary = json.loads((trained / "summary.json").read_text())
    # Same split (ratios and seed come from the checkpoint), same model: same test numbers.
    assert metrics["count"] == summary["test_metrics"]["count"]
    assert metrics["at_0.5"]["accuracy"] == pytest.approx(summary["test_metrics"]["accuracy"])
    assert metrics["at_0.5"]["loss"] is not None
    assert {"threshold", "f1"} <= set(metrics["f1_optimal_threshold"])
    for name in ("confusion_test.png", "roc_test.png", "pr_test.png"):
        assert (out / name).is_file()


def _invoke_train(*args: str):  # noqa: ANN202
    return CliRunner().invoke(train, list(args))


def test_wrong_flag_value_is_refused(parquet: Path, tmp_path: Path):
    result = _invoke_train(
        "--data_root",
        str(parquet),
        "--output_dir",
        str(tmp_path / "r"),
        "--train_resampling",
        "sometimes",
    )
    assert result.exit_code == 2 and "sometimes" in result.output
    result = _invoke_train(
        "--data_root", str(parquet), "--output_dir", str(tmp_path / "r"), "--image_size", "big"
    )
    assert result.exit_code == 1 and "--image_size" in result.output
    assert not (tmp_path / "r").exists()


def test_size_conflicts_with_explicit_architecture(parquet: Path, tmp_path: Path):
    result = _invoke_train(
        "--data_root",
        str(parquet),
        "--output_dir",
        str(tmp_path / "r"),
        "--size",
        "s",
        "--base_channels",
        "16",
    )
    assert result.exit_code == 1
    assert "--size s" in result.output and "--base_channels" in result.output


def test_missing_data_file(tmp_path: Path):
    result = _invoke_train(
        "--data_root", str(tmp_path / "nope.parquet"), "--output_dir", str(tmp_path / "r")
    )
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "r").exists()


def test_corrupt_image_fails_before_training(parquet: Path, tmp_path: Path):
    frame = pd.read_parquet(parquet)
    frame.loc[5, "image_bytes"] = b"\x89PNG not really"
    broken = tmp_path / "broken.parquet"
    frame.to_parquet(broken)
    out = tmp_path / "r"
    result = _invoke_train("--data_root", str(broken), "--output_dir", str(out), *TINY)
    assert result.exit_code == 1
    assert "5" in result.output and "skip_bad_rows" in result.output
    assert not list(out.glob("hsc_epoch_*"))
    assert cv2 is not None  # decoding is OpenCV's; the message names the row


def test_evaluate_onnx_agrees_with_the_checkpoint(trained: Path, parquet: Path, tmp_path: Path):
    pytest.importorskip("jax2onnx")
    from hsc_jax.export.exporter import export_onnx
    from hsc_jax.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(trained, depthwise="grouped")
    onnx_path = tmp_path / "tiny.onnx"
    export_onnx(
        loaded.model,
        loaded.image_size,
        loaded.contract,
        onnx_path,
        training_config=loaded.train_config,
    )
    runner = CliRunner()
    outputs = {}
    for flag, model in (("--checkpoint", trained), ("--model", onnx_path)):
        out = tmp_path / flag.strip("-")
        result = runner.invoke(
            evaluate, [flag, str(model), "--data_root", str(parquet), "--output_dir", str(out)]
        )
        assert result.exit_code == 0, result.output + repr(result.exception)
        outputs[flag] = json.loads((out / "metrics.json").read_text())
    jax_metrics, onnx_metrics = outputs["--checkpoint"], outputs["--model"]
    assert onnx_metrics["count"] == jax_metrics["count"]
    assert onnx_metrics["model_threshold"] == pytest.approx(jax_metrics["model_threshold"])
    for key in ("accuracy", "f1", "roc_auc"):
        assert onnx_metrics["at_0.5"][key] == pytest.approx(jax_metrics["at_0.5"][key], abs=1e-6)


FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "torch_fixtures"


@pytest.mark.shared
@pytest.mark.skipif(not (FIXTURES / "index.json").is_file(), reason="needs ../shared fixtures")
def test_convert_torch_writes_a_loadable_checkpoint(tmp_path: Path):
    import numpy as np

    from hsc_jax.train.checkpoint import load_checkpoint
    from hsc_jax.train.cli import convert_torch

    entry = json.loads((FIXTURES / "index.json").read_text())[0]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(entry["model_config"]))
    out = tmp_path / "converted"
    args = ["--state", str(FIXTURES / entry["file"]), "--config", str(config)]
    args += ["--output", str(out), "--image_size", "x".join(map(str, entry["image_size"]))]
    result = CliRunner().invoke(convert_torch, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    loaded = load_checkpoint(out)
    with np.load(FIXTURES / entry["file"]) as data:
        images = np.transpose(data["input"], (0, 2, 3, 1))  # NCHW -> NHWC
        expected = data["logits"]
    np.testing.assert_allclose(loaded.model(images), expected.reshape(-1), rtol=1e-4, atol=1e-4)
    again = CliRunner().invoke(convert_torch, args)
    assert again.exit_code == 1 and "already holds a checkpoint" in again.output
