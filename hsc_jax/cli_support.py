"""Click helpers that every `hsc-jax` command shares: one-line user errors and `--device`.

A leaf module: it imports none of the command modules, so they can all import it while
`hsc_jax/cli.py` loads them lazily by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import click

from hsc_infer.errors import USER_ERRORS
from hsc_jax.devices import DEVICES

# Shared by every command so that `-h` works wherever `--help` does.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def device_option(command: Callable) -> Callable:
    """`--device`, as `train` takes it, for the commands that run a model."""
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        type=click.Choice(DEVICES),
        help="JAX backend: auto takes an accelerator when there is one; cuda/gpu without one "
        "falls back to the CPU with a warning.",
    )(command)


@contextlib.contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Turn the USER_ERRORS raised inside into click's one-line `Error: ...` and exit status 1."""
    try:
        yield
    except USER_ERRORS as e:
        raise click.ClickException(f"{prefix}{e}") from e
