"""Click options built from the fields of `TrainConfig`: flag, default, help, type and range.

`hsc-jax train` offers every flag field this way, and other commands (`evaluate`) offer the few
training settings they share, so the command line and the configuration cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

import click

from hsc_jax.train.config import TrainConfig
from hsc_jax.train.options import Option, option_of

_FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)

# The TrainConfig fields that `hsc-jax train` offers as flags (the rest are set in recipes).
TRAIN_FLAGS = tuple(name for name, field in _FIELDS.items() if option_of(field).flag)


def value_type(name: str) -> tuple[type, bool]:
    """(int, float, str, bool or tuple; whether None is allowed) of a TrainConfig field."""
    hint = _HINTS[name]
    optional = False
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    return typing.get_origin(hint) or hint, optional


def click_type(spec: Option, kind: type) -> click.ParamType:
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
    """The click option of the TrainConfig field `name`: flag, default, help and type from the
    field."""
    field, spec = _FIELDS[name], option_of(_FIELDS[name])
    kind, _ = value_type(name)
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
        settings.update(default=default, type=click_type(spec, kind))
    return click.option(*flags, name, **settings)


def training_options(names: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`training_option` for each name, listed in --help in the order given."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(list(names)):
            command = training_option(name)(command)
        return command

    return decorate


def recipe_value(ctx: click.Context, name: str, value: Any) -> Any:
    """A recipe value checked and converted as its flag would be; BadParameter otherwise."""
    kind, optional = value_type(name)
    if value is None:
        if optional:
            return None
        raise click.BadParameter("null is not allowed here")
    spec = option_of(_FIELDS[name])
    if kind is tuple and isinstance(value, list | tuple) and spec.as_text is not None:
        value = spec.as_text(value)
    if kind is bool and not isinstance(value, bool):
        raise click.BadParameter(f"expected true or false, got {value!r}")
    return click_type(spec, kind).convert(value, None, ctx)
