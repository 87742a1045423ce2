"""The train/predict/evaluate commands through click: a real tiny model end to end, clear
failures before any training for bad flags, missing files and corrupt images, flags built from
TrainConfig, and recipe files."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fakes import TINY_ARCH_FLAGS

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.evaluation.cli import evaluate, predict
from hsc_jax.train.cli import train
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.options import option_of
from hsc_jax.train.recipe import read_recipe

REPO = Path(__file__).resolve().parents[1]

TINY = list(TINY_ARCH_FLAGS)


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


def _invoke_train(*args: str):
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
    # One line names the file, the row (its index and image) and what is wrong with it.
    assert f"bad row(s) in {broken}" in result.output
    row = next(line for line in result.output.splitlines() if "cannot decode" in line)
    assert row.strip().startswith("row 5 (") and "image_bytes" in row
    assert "--skip_bad_rows" in result.output
    assert not list(out.glob("hsc_epoch_*"))


def test_evaluate_onnx_agrees_with_the_checkpoint(trained: Path, parquet: Path, tmp_path: Path):
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


# --- flags from TrainConfig, recipe files ----------------------------------------------------


def test_help_lists_every_flag_of_the_config():
    result = CliRunner().invoke(train, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for field in dataclasses.fields(TrainConfig):
        listed = re.search(rf"--{field.name}[ ,]", result.output) is not None
        assert listed == option_of(field).flag, field.name
    for text in ("--arch_variant, --arch", "[default: 30; x>=1]", "[default: 48]", "ROWSxCOLS."):
        assert text in result.output
    assert "[default: 2x3]" in result.output and "--config FILE" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "--epochs must be >= 1, got 0"),
        ({"lr": 0.0}, "--lr must be > 0"),
        ({"dropout": 1.0}, r"--dropout must be in \[0, 1\)"),
        ({"train_resampling": "sometimes"}, "--train_resampling must be one of none|"),
        ({"clahe_p": 2.0}, r"clahe_p must be in \[0, 1\], got 2.0"),
        ({"token_mixer_grid": "2by3"}, "--token_mixer_grid must be ROWSxCOLS"),
    ],
)
def test_validation_names_the_flag(parquet: Path, change: dict, message: str):
    from hsc_jax.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(data_root=str(parquet), **change).validate()


@pytest.fixture
def captured(monkeypatch) -> list[TrainConfig]:
    """The TrainConfig each `train` invocation builds; nothing is trained."""
    configs: list[TrainConfig] = []

    def fake_train(config, model_factory=None):
        configs.append(config)
        return {"best_checkpoint": "none", "best_epoch": 0, "best_f1": 0.0}

    monkeypatch.setattr("hsc_jax.train.trainer.train", fake_train)
    return configs


def _recipe(tmp_path: Path, **values) -> Path:
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(values))
    return path


def test_recipe_values_reach_the_config(parquet: Path, tmp_path: Path, captured):
    recipe = _recipe(
        tmp_path,
        description="hsc-jax train --config recipe.json: seconds, F1 of nothing",
        data_root=str(parquet),
        output_dir=str(tmp_path / "run"),
        size="P",
        epochs=3,
        lr=3e-3,
        image_size=[64, 48],
        train_resampling="balanced",
        crop_kind="face",
        use_amp=True,
        clahe_p=0.05,  # a setting with no flag
    )
    result = CliRunner().invoke(train, ["--config", str(recipe)])
    assert result.exit_code == 0, result.output
    (config,) = captured
    assert (config.size, config.epochs, config.lr, config.image_size) == ("p", 3, 3e-3, (64, 48))
    assert config.train_resampling == "balanced" and config.crop_kind == "face"
    assert config.use_amp and config.clahe_p == 0.05
    assert config.batch_size == 256  # not in the file: the field's default


def test_flags_on_the_command_line_win_over_the_recipe(parquet: Path, tmp_path: Path, captured):
    recipe = _recipe(tmp_path, data_root="elsewhere.parquet", epochs=3, lr=3e-3, seed=0)
    args = ["--epochs", "1", "--config", str(recipe), "--data_root", str(parquet), "--seed", "42"]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output
    (config,) = captured
    assert (config.epochs, config.seed, config.data_root) == (1, 42, str(parquet))
    assert config.lr == 3e-3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epoch": 3}, "unknown setting 'epoch' in {path} (keys are the training flags"),
        ({"epochs": 0}, "epochs in {path}: 0 is not in the range x>=1."),
        ({"size": "xl"}, "size in {path}: "),
        ({"use_amp": "yes"}, "use_amp in {path}: expected true or false"),
    ],
)
def test_bad_recipe_is_one_line(tmp_path: Path, captured, values: dict, message: str):
    recipe = _recipe(tmp_path, **values)
    result = CliRunner().invoke(train, ["--config", str(recipe), "--data_root", "x.parquet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message.format(path=recipe) in lines[0]
    assert not captured


def test_missing_or_broken_recipe_file(tmp_path: Path, captured):
    result = CliRunner().invoke(train, ["--config", str(tmp_path / "none.json")])
    assert result.exit_code == 1 and "does not exist" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{epochs: 3")
    result = CliRunner().invoke(train, ["--config", str(broken)])
    assert result.exit_code == 1 and "cannot be read as JSON" in result.output


# The recipe each shipped model was trained with (docs/model-zoo.md).
SHIPPED_RECIPES = {"s": "ferplus_s_distil34", "p": "ferplus_p_distil_light_wild"}


@pytest.mark.parametrize("size", sorted(SHIPPED_RECIPES))
def test_shipped_recipes_reproduce_the_shipped_models(size: str):
    from hsc_infer import SmileClassifier

    recipe = SHIPPED_RECIPES[size]
    path = REPO / "configs" / f"{recipe}.json"
    data = json.loads(path.read_text())
    assert f"hsc-jax train --config configs/{recipe}.json" in data["description"]
    config = TrainConfig(**read_recipe(path))
    assert config.size == size and config.crop_kind == "face"
    # The settings the shipped ONNX model records are exactly the recipe's; settings added
    # since (how processes join, where images are cached) keep their defaults and do not change
    # what is trained.
    recorded = dict(SmileClassifier(size).contract.training_config)
    # --resume says how the run was carried out, not what it trained: a resumed run repeats an
    # uninterrupted one (tests/test_train_run.py).
    recorded.pop("resume", None)
    settings = config.to_dict()
    settings.pop("resume")
    assert {k: v for k, v in settings.items() if k in recorded} == recorded
    defaults = TrainConfig(data_root=config.data_root).to_dict()
    assert {k: v for k, v in settings.items() if k not in recorded} == {
        k: defaults[k] for k in settings if k not in recorded
    }


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "hsc_jax", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "predict", "export", "data"):
        assert command in result.stdout
