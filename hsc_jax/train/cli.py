"""Click commands `train`, `predict`, `evaluate` and `convert-torch`: parse, then call one
importable function. Flag names are the reference's (snake_case), plus --size and --arch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hsc_jax.train.config import DEVICES, NAMED_SIZE_KEYS, RESAMPLING_MODES


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, not a bug: shown as one message with exit status 1."""
    from hsc_jax.data.dataset import DatasetError
    from hsc_jax.train.checkpoint import CheckpointError
    from hsc_jax.train.config import ConfigError
    from hsc_jax.train.mesh import DeviceError
    from hsc_jax.train.trainer import ResumeError

    return (
        ConfigError,
        DatasetError,
        ResumeError,
        DeviceError,
        CheckpointError,
        FileNotFoundError,
        ValueError,
    )


def _fail_cleanly(error: BaseException) -> None:
    raise click.ClickException(str(error)) from error


@click.command("train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data_root", required=True, help="Parquet file (or folder with dataset.parquet).")
@click.option("--output_dir", default="runs/hsc", show_default=True, help="Run folder.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--batch_size", default=256, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--train_resampling",
    default="none",
    show_default=True,
    type=click.Choice(RESAMPLING_MODES),
    help="none: shuffle; weighted: draw by 1/class count; balanced: tile classes up.",
)
@click.option("--lr", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--weight_decay", default=1e-4, show_default=True, type=click.FloatRange(min=0))
@click.option(
    "--num_workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Host threads preparing batches (in-process).",
)
@click.option("--image_size", default="48", show_default=True, help="48, or HxW such as 64x48.")
@click.option("--train_ratio", default=0.8, show_default=True, type=click.FloatRange(0, 1))
@click.option("--val_ratio", default=0.2, show_default=True, type=click.FloatRange(0, 1))
@click.option("--test_ratio", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--size",
    type=click.Choice(NAMED_SIZE_KEYS, case_sensitive=False),
    default=None,
    help="Named size of the reference zoo (fixes the architecture flags).",
)
@click.option("--base_channels", type=click.IntRange(min=1), default=None, help="Default 32.")
@click.option("--num_blocks", type=click.IntRange(min=1), default=None, help="Default 4.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None, help="0.3.")
@click.option(
    "--arch_variant",
    "--arch",
    "arch_variant",
    type=click.Choice(("baseline", "inverted_se", "convnext")),
    default=None,
    help="Backbone (default inverted_se).",
)
@click.option(
    "--head_variant",
    type=click.Choice(("auto", "avg", "avgmax_mlp", "transformer", "mlp_mixer")),
    default=None,
    help="Head (default auto).",
)
@click.option("--rgb_to_yuv_to_y", is_flag=True, help="Luma-only stem.")
@click.option("--rgb_to_lab", is_flag=True, help="CIE Lab stem.")
@click.option("--rgb_to_luv", is_flag=True, help="CIE Luv stem.")
@click.option("--token_mixer_grid", default="2x3", show_default=True, help="ROWSxCOLS.")
@click.option("--token_mixer_layers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="auto", show_default=True, type=click.Choice(DEVICES))
@click.option("--resume", default=None, help="Checkpoint folder, or 'auto' (newest in output_dir).")
@click.option("--use_amp", is_flag=True, help="bfloat16 compute on accelerators.")
@click.option("--verbose", is_flag=True, help="Progress bars and debug logging.")
@click.option("--skip_bad_rows", is_flag=True, help="Leave out bad rows instead of failing.")
@click.option(
    "--crop_kind",
    default="head",
    show_default=True,
    type=click.Choice(("head", "face")),
    help="What the training crops show (FERPlus: face); recorded for inference.",
)
@click.option(
    "--crop_margin",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Margin per side of the detector box, as a fraction of its size.",
)
@click.option(
    "--max_steps_per_epoch",
    type=click.IntRange(min=1),
    default=None,
    help="Cut epochs short (smoke tests, benchmarks).",
)
def train(**options: object) -> None:
    """Train a smile classifier; every output lands in --output_dir."""
    from hsc_jax.train.config import TrainConfig
    from hsc_jax.train.trainer import train as run_training

    try:
        config = TrainConfig(**options)  # type: ignore[arg-type]
        summary = run_training(config)
    except _known_errors() as e:
        _fail_cleanly(e)
    click.echo(
        f"best checkpoint: {summary['best_checkpoint']} (epoch {summary['best_epoch']}, "
        f"F1 {summary['best_f1']})"
    )
    click.echo(f"summary: {Path(config.output_dir) / 'summary.json'}")


@click.command("predict", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--checkpoint", required=True, help="Checkpoint folder (or a run folder).")
@click.option(
    "--inputs",
    "inputs",
    multiple=True,
    required=True,
    help="Image files or folders (searched recursively); more may follow the first.",
)
@click.argument("more_inputs", nargs=-1)
@click.option("--output", default=None, help="CSV to write; a table is printed when omitted.")
@click.option("--batch_size", default=64, show_default=True, type=click.IntRange(min=1))
def predict(
    checkpoint: str,
    inputs: tuple[str, ...],
    more_inputs: tuple[str, ...],
    output: str | None,
    batch_size: int,
) -> None:
    """Smile probability of each image: path, logit, prob_smiling."""
    from hsc_jax.train.predict import format_table, predict_files, write_predictions_csv

    try:
        predictions = predict_files(checkpoint, [*inputs, *more_inputs], batch_size)
    except _known_errors() as e:
        _fail_cleanly(e)
    if output:
        write_predictions_csv(output, predictions)
        click.echo(f"{len(predictions)} predictions written to {output}")
    else:
        click.echo(format_table(predictions))


@click.command("evaluate", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--checkpoint", default=None, help="Checkpoint folder (or a run folder).")
@click.option("--model", "onnx_model", default=None, help="An exported .onnx model.")
@click.option("--data_root", required=True, help="Parquet file (or folder with dataset.parquet).")
@click.option(
    "--split",
    default="test",
    show_default=True,
    type=click.Choice(("train", "val", "test", "all")),
)
@click.option("--output_dir", required=True, help="Where metrics.json and the figures go.")
@click.option("--batch_size", default=256, show_default=True, type=click.IntRange(min=1))
@click.option("--skip_bad_rows", is_flag=True)
@click.option("--train_ratio", default=0.8, show_default=True, type=click.FloatRange(0, 1))
@click.option("--val_ratio", default=0.2, show_default=True, type=click.FloatRange(0, 1))
@click.option("--test_ratio", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--seed", default=42, show_default=True, type=int)
def evaluate(
    checkpoint: str | None,
    onnx_model: str | None,
    data_root: str,
    split: str,
    output_dir: str,
    batch_size: int,
    skip_bad_rows: bool,
    train_ratio: float,
    val_ratio: float,
    test_ratio: float,
    seed: int,
) -> None:
    """Accuracy, precision, recall, F1 and ROC AUC at 0.5 and at the model's threshold.

    The split ratios and seed are the training run's when the model records them; the flags
    apply to models that do not.
    """
    from hsc_jax.train.evaluate import SplitSettings, evaluate_model

    if (checkpoint is None) == (onnx_model is None):
        raise click.UsageError("give exactly one of --checkpoint and --model")
    try:
        metrics = evaluate_model(
            data_root,
            output_dir,
            checkpoint=checkpoint,
            onnx_model=onnx_model,
            split=split,
            batch_size=batch_size,
            skip_bad_rows=skip_bad_rows,
            default_split=SplitSettings(train_ratio, val_ratio, test_ratio, seed),
        )
    except (*_known_errors(), RuntimeError) as e:
        _fail_cleanly(e)
    headline = {k: metrics["at_0.5"][k] for k in ("accuracy", "precision", "recall", "f1")}
    headline["roc_auc"] = metrics["at_0.5"]["roc_auc"]
    click.echo(json.dumps({"split": split, "count": metrics["count"], **headline}, indent=2))
    click.echo(f"metrics and figures in {output_dir}")


@click.command("convert-torch", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state", "state_npz", required=True, help="Reference model_state .npz.")
@click.option("--output", required=True, help="Checkpoint folder to write.")
@click.option(
    "--config", "config_json", default=None, help="Model config JSON (else beside --state)."
)
@click.option("--image_size", default="48", show_default=True)
def convert_torch(state_npz: str, output: str, config_json: str | None, image_size: str) -> None:
    """Turn a reference PyTorch state dict into a checkpoint that export and predict read."""
    from hsc_jax.data.images import parse_image_size
    from hsc_jax.models.torch_convert import convert_torch_checkpoint
    from hsc_jax.train.checkpoint import is_complete, save_model_checkpoint

    try:
        size = parse_image_size(image_size)
        if Path(output).exists() and is_complete(Path(output)):
            raise FileExistsError(f"{output} already holds a checkpoint; choose another --output")
        model, config = convert_torch_checkpoint(state_npz, config_json, size)
        path = save_model_checkpoint(output, model, config, size)
    except (*_known_errors(), FileExistsError, KeyError) as e:
        _fail_cleanly(e)
    click.echo(f"checkpoint written to {path}")


if __name__ == "__main__":
    train(sys.argv[1:])
