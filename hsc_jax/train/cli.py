"""Click commands `train`, `convert-torch` and `teacher`: parse, then call one importable
function.

The flags of `train` are built from the fields of `TrainConfig` (their names, defaults, help,
choices and ranges live there), so the command line and the configuration cannot drift apart.
Flag names are the reference's (snake_case), plus --size, --arch and --config.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from hsc_jax.cli_support import CONTEXT_SETTINGS, user_errors
from hsc_jax.errors import CheckpointError
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.flags import TRAIN_FLAGS, recipe_value, training_options
from hsc_jax.train.recipe import read_recipe

# ctx.meta key: recipe settings that have no flag (they still reach TrainConfig).
_RECIPE_ONLY = "hsc_jax.train.recipe_only"


def _apply_recipe(ctx: click.Context, param: click.Parameter, path: Path | None) -> None:
    """--config: the file's settings become the defaults, so flags given on the command line win
    (click's default_map; their ParameterSource is then DEFAULT_MAP, not COMMANDLINE)."""
    if path is None:
        return
    with user_errors():
        values = read_recipe(path)
    flags = {p.name for p in ctx.command.params}
    defaults, recipe_only = {}, {}
    for name, value in values.items():
        try:
            converted = recipe_value(ctx, name, value)
        except click.BadParameter as e:
            raise click.ClickException(f"{name} in {path}: {e.message}") from e
        if name in flags:
            defaults[name] = converted
        else:
            recipe_only[name] = converted
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta[_RECIPE_ONLY] = recipe_only


@contextlib.contextmanager
def leave_at_once_on_failure() -> Iterator[None]:
    """In a multi-process run a failing process reports and leaves at once (os._exit).

    An ordinary exit would wait at JAX's shutdown barrier for peers that are themselves waiting
    for this process inside a collective; leaving closes its connections, so they fail fast
    with a lost-peer error instead of hanging until the timeouts.
    """
    try:
        yield
    except BaseException as e:
        import jax

        if isinstance(e, SystemExit) or not jax.distributed.is_initialized():
            raise
        if isinstance(e, click.ClickException):
            e.show()
        else:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130 if isinstance(e, KeyboardInterrupt) else 1)


@click.command("train", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=_apply_recipe,
    help="JSON recipe (configs/*.json) of settings named as the flags; flags given win.",
)
@training_options(TRAIN_FLAGS)
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train a smile classifier; every output lands in --output_dir."""
    from hsc_jax.train.trainer import train as run_training

    with leave_at_once_on_failure(), user_errors():
        config = TrainConfig(**options, **ctx.meta.get(_RECIPE_ONLY, {}))
        summary = run_training(config)
    click.echo(
        f"best checkpoint: {summary['best_checkpoint']} (epoch {summary['best_epoch']}, "
        f"F1 {summary['best_f1']})"
    )
    click.echo(f"summary: {Path(config.output_dir) / 'summary.json'}")


def _image_size(ctx: click.Context, param: click.Parameter, text: str) -> tuple[int, int]:
    from hsc_jax.data.images import parse_image_size

    try:
        return parse_image_size(text)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from e


@click.command("convert-torch", context_settings=CONTEXT_SETTINGS)
@click.option("--state", "state_npz", required=True, help="Reference model_state .npz.")
@click.option("--output", required=True, help="Checkpoint folder to write.")
@click.option(
    "--config", "config_json", default=None, help="Model config JSON (else beside --state)."
)
@click.option("--image_size", default="48", show_default=True, callback=_image_size)
def convert_torch(
    state_npz: str, output: str, config_json: str | None, image_size: tuple[int, int]
) -> None:
    """Turn a reference PyTorch state dict into a checkpoint that export and predict read."""
    from hsc_jax.models.torch_convert import convert_torch_checkpoint
    from hsc_jax.train.checkpoint import is_complete, save_model_checkpoint

    with user_errors():
        if Path(output).exists() and is_complete(Path(output)):
            raise FileExistsError(f"{output} already holds a checkpoint; choose another --output")
        try:
            model, config = convert_torch_checkpoint(state_npz, config_json, image_size)
        except (KeyError, ValueError) as e:
            # The model code says ValueError/KeyError when the config or the state dict (both
            # given by the user here) does not describe a model this version builds.
            raise CheckpointError(f"cannot convert {state_npz}: {e}") from e
        path = save_model_checkpoint(output, model, config, image_size)
    click.echo(f"checkpoint written to {path}")


@click.command("teacher", context_settings=CONTEXT_SETTINGS)
@click.option("--data_root", required=True, help="The dataset the student trains on.")
@click.option(
    "--model",
    "models",
    required=True,
    multiple=True,
    help="Exported teacher model (ONNX); give it several times for an ensemble's mean.",
)
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Parquet to write.")
@click.option(
    "--image_size",
    default="48",
    show_default=True,
    callback=_image_size,
    help="The student's --image_size (the file checks its images at that size).",
)
@click.option("--batch_size", default=256, show_default=True, type=click.IntRange(min=1))
def teacher(
    data_root: str,
    models: tuple[str, ...],
    output: Path,
    image_size: tuple[int, int],
    batch_size: int,
) -> None:
    """Teacher probabilities of every image of a dataset, for `train --teacher`."""
    from hsc_jax.train.teacher import write_teacher_file

    with user_errors():
        count = write_teacher_file(models, data_root, output, image_size, batch_size)
    click.echo(f"wrote {output}: the mean of {len(models)} model(s) on {count} images")
