"""How a TrainConfig field is offered to users: its help, choices, bounds, flag names, whether a
resumed run keeps it, and how its value reads as flag text. `option(...)` declares a field with
these; `hsc-jax train`'s flags (flags.py), the resume rule and `TrainConfig.validate` read them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hsc_jax.errors import ConfigError

_OPTION_KEY = "hsc_option"


@dataclasses.dataclass(frozen=True)
class Bounds:
    """An interval of allowed numbers; a None end is unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """'>= 1', '> 0', 'in [0, 1)'."""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


@dataclasses.dataclass(frozen=True)
class Option:
    """How one TrainConfig field is offered to users."""

    help: str | None = None
    choices: tuple[str, ...] | None = None
    case_sensitive: bool = True  # of the choices
    bounds: Bounds | None = None
    aliases: tuple[str, ...] = ()  # more flag names, e.g. "--arch"
    flag: bool = True  # False: set in a recipe file or in Python, not on the command line
    # A resumed run takes this setting from its checkpoint: it shapes the data order, the split
    # or the model, so changing it would not continue the same run.
    fixed_on_resume: bool = False
    # May differ between the processes of one run (paths, threads, logging, the process's own
    # id); every other setting must be the same on all of them.
    per_process: bool = False
    # The value as flag text (tuples such as the image size); None: click's own rendering.
    as_text: Callable[[Any], str] | None = None

    def label(self, name: str) -> str:
        """How messages name the setting: its flag, or the bare field name."""
        return f"--{name}" if self.flag else name


def option(default: Any = dataclasses.MISSING, **settings: Any) -> Any:
    """A TrainConfig field with its `Option` (no default: required)."""
    return dataclasses.field(default=default, metadata={_OPTION_KEY: Option(**settings)})


def option_of(field: dataclasses.Field) -> Option:
    """The `Option` of a TrainConfig field."""
    return field.metadata.get(_OPTION_KEY) or Option(flag=False)


def format_image_size(size: Any) -> str:
    """(48, 48) -> '48', (64, 48) -> '64x48': the --image_size text."""
    values = [str(v) for v in size]
    return values[0] if len(values) == 2 and values[0] == values[1] else "x".join(values)


def format_grid(grid: Any) -> str:
    """(2, 3) -> '2x3': the --token_mixer_grid text."""
    return "x".join(str(v) for v in grid)


def parse_grid(value: Any) -> tuple[int, int]:
    """'2x3', '2,3', (2, 3) or [2, 3] -> (2, 3)."""
    try:
        if isinstance(value, str):
            parts = value.lower().replace("×", "x").replace(",", "x").split("x")
            numbers = [int(p) for p in parts if p.strip()]
        else:
            numbers = [int(v) for v in value]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 2 or min(numbers) < 1:
        raise ConfigError(f"--token_mixer_grid must be ROWSxCOLS such as 2x3, got {value!r}")
    return numbers[0], numbers[1]


def largest_divisor(number: int, at_most: int) -> int:
    return max(d for d in range(1, min(number, at_most) + 1) if number % d == 0)


def check_allowed(name: str, spec: Option, value: Any) -> None:
    """ConfigError unless `value` is one of the field's choices and within its bounds."""
    if value is None or (spec.choices is None and spec.bounds is None):
        return
    label = spec.label(name)
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{label} must be one of {'|'.join(spec.choices)}, got {value!r}")
    if spec.bounds is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{label} must be a number, got {value!r}")
        if value not in spec.bounds:
            raise ConfigError(f"{label} must be {spec.bounds.describe()}, got {value}")
