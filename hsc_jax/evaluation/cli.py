"""Click commands `predict` and `evaluate`: parse, then call one importable function."""

from __future__ import annotations

import json

import click

from hsc_infer.labels import IMAGE_SUFFIXES
from hsc_jax.cli_support import CONTEXT_SETTINGS, device_option, user_errors
from hsc_jax.train.flags import training_options

_SUFFIXES = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
_INPUTS_HELP = (
    f"Image files ({_SUFFIXES}) or folders (searched recursively); more may follow the first."
)


@click.command("predict", context_settings=CONTEXT_SETTINGS)
@click.option("--checkpoint", required=True, help="Checkpoint folder (or a run folder).")
@click.option(
    "--inputs",
    "inputs",
    multiple=True,
    required=True,
    help=_INPUTS_HELP,
)
@click.argument("more_inputs", nargs=-1)
@click.option("--output", default=None, help="CSV to write; a table is printed when omitted.")
@click.option("--batch_size", default=64, show_default=True, type=click.IntRange(min=1))
@device_option
def predict(
    checkpoint: str,
    inputs: tuple[str, ...],
    more_inputs: tuple[str, ...],
    output: str | None,
    batch_size: int,
    device: str,
) -> None:
    """Smile probability of each image: path, logit, prob_smiling."""
    from hsc_jax.devices import on_device
    from hsc_jax.evaluation.predict import format_table, predict_files, write_predictions_csv

    with user_errors(), on_device(device):
        predictions = predict_files(checkpoint, [*inputs, *more_inputs], batch_size)
        if output:
            write_predictions_csv(output, predictions)
    if output:
        click.echo(f"{len(predictions)} predictions written to {output}")
    else:
        click.echo(format_table(predictions))


@click.command("evaluate", context_settings=CONTEXT_SETTINGS)
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
# The split flags are training's (same defaults): they rebuild the split of a model that does
# not record the settings it was trained with.
@training_options(("skip_bad_rows", "train_ratio", "val_ratio", "test_ratio", "seed", "data_cache"))
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
    data_cache: str,
) -> None:
    """Accuracy, precision, recall, F1 and ROC AUC at 0.5 and at the model's threshold.

    The split ratios and seed are the training run's when the model records them; the flags
    apply to models that do not.
    """
    from hsc_jax.data.settings import DataSettings
    from hsc_jax.evaluation.evaluate import evaluate_model

    if (checkpoint is None) == (onnx_model is None):
        raise click.UsageError("give exactly one of --checkpoint and --model")
    with user_errors():
        settings = DataSettings(
            train_ratio=train_ratio,
            val_ratio=val_ratio,
            test_ratio=test_ratio,
            seed=seed,
            cache=data_cache,
            skip_bad_rows=skip_bad_rows,
        )
        metrics = evaluate_model(
            data_root,
            output_dir,
            checkpoint=checkpoint,
            onnx_model=onnx_model,
            split=split,
            batch_size=batch_size,
            data_settings=settings,
        )
    headline = {k: metrics["at_0.5"][k] for k in ("accuracy", "precision", "recall", "f1")}
    headline["roc_auc"] = metrics["at_0.5"]["roc_auc"]
    click.echo(json.dumps({"split": split, "count": metrics["count"], **headline}, indent=2))
    click.echo(f"metrics and figures in {output_dir}")
