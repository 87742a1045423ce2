"""Click commands `train` and `convert-torch`: parse, then call one importable function.

The flags of `train` are built from the fields of `TrainConfig` (their names, defaults, help,
choices and ranges live there), so the command line and the configuration cannot drift apart.
Flag names are the reference's (snake_case), plus --size, --arch and --config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import traceback
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from hsc_jax.cli import user_errors
from hsc_jax.errors import CheckpointError
from hsc_jax.train.config import Option, TrainConfig, option_of, read_recipe

_FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)
# ctx.meta key: recipe settings that have no flag (they still reach TrainConfig).
_RECIPE_ONLY = "hsc_jax.train.recipe_only"


def _value_type(name: str) -> tuple[type, bool]:
    """(int, float, str, bool or tuple; whether None is allowed) of a TrainConfig field."""
    hint = _HINTS[name]
    optional = False
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    return typing.get_origin(hint) or hint, optional


def _click_type(spec: Option, kind: type) -> click.ParamType:
    if spec.choices is not None:
        return click.Choice(spec.choices, case_sensitive=spec.case_sensitive)
    if spec.bounds is not None and kind in (int, float):
        bounds = spec.bounds
        range_type = click.IntRange if kind is int else click.FloatRange
        return range_type(
            bounds.low, bounds.high, min_open=bounds.low_open, max_open=bounds.high_open
        )
    # Tuples (image size, token grid) arrive as text and TrainConfig parses them.
    return {int: click.INT, float: click.FLOAT, bool: click.BOOL}.get(kind, click.STRING)


def training_option(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option of the TrainConfig field `name`: flag, default, help, type from the field."""
    field, spec = _FIELDS[name], option_of(_FIELDS[name])
    kind, _ = _value_type(name)
    settings: dict[str, Any] = {"help": spec.help, "show_default": True}
    flags = [f"--{name}", *spec.aliases]
    if field.default is dataclasses.MISSING:
        settings["required"] = True
    elif kind is bool:
        settings.update(is_flag=True, default=field.default)
        if field.default:
            # A setting that is on by default needs a flag that turns it off.
            flags[0] = f"--{name}/--no_{name}"
    else:
        default = field.default
        if spec.as_text is not None and default is not None:
            default = spec.as_text(default)
        settings.update(default=default, type=_click_type(spec, kind))
    return click.option(*flags, name, **settings)


def training_options(names: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`training_option` for each name, listed in --help in the order given."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(list(names)):
            command = training_option(name)(command)
        return command

    return decorate


def _file_value(ctx: click.Context, name: str, value: Any) -> Any:
    """A recipe value checked and converted as its flag would be; BadParameter otherwise."""
    kind, optional = _value_type(name)
    if value is None:
        if optional:
            return None
        raise click.BadParameter("null is not allowed here")
    spec = option_of(_FIELDS[name])
    if kind is tuple and isinstance(value, list | tuple) and spec.as_text is not None:
        value = spec.as_text(value)
    if kind is bool and not isinstance(value, bool):
        raise click.BadParameter(f"expected true or false, got {value!r}")
    return _click_type(spec, kind).convert(value, None, ctx)


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
            converted = _file_value(ctx, name, value)
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


TRAIN_FLAGS = tuple(name for name, field in _FIELDS.items() if option_of(field).flag)


@click.command("train", context_settings={"help_option_names": ["-h", "--help"]})
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


@click.command("convert-torch", context_settings={"help_option_names": ["-h", "--help"]})
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
