"""The `hsc-jax` command line: a thin click group whose commands live beside the code they run.

Commands are imported only when invoked, so `hsc-jax --help` answers without loading JAX.
Every command reports bad input (an `HscError`, a missing file) as one line with exit status 1
through `user_errors`; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

import click

from hsc_infer.errors import USER_ERRORS
from hsc_jax.allocator import restart_with_tuned_malloc
from hsc_jax.devices import DEVICES

# command name -> "module:attribute" of its click command
COMMANDS = {
    "data": "hsc_jax.data.cli:data",
    "train": "hsc_jax.train.cli:train",
    "predict": "hsc_jax.evaluation.cli:predict",
    "evaluate": "hsc_jax.evaluation.cli:evaluate",
    "convert-torch": "hsc_jax.train.cli:convert_torch",
    "export": "hsc_jax.export.cli:export",
    "exportonnx": "hsc_jax.export.cli:export",  # the reference's name
}

HELP = {
    "data": "Build, synthesise and inspect datasets.",
    "train": "Train a smile classifier.",
    "predict": "Smile probabilities of image files from a checkpoint.",
    "evaluate": "Metrics and figures of a checkpoint or ONNX model on a split.",
    "convert-torch": "Turn a reference PyTorch checkpoint into one of ours.",
    "export": "Export a checkpoint to ONNX.",
    "exportonnx": "Alias of export.",
}


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


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hsc-jax")
def main() -> None:
    """HSC-JAX: train, evaluate and export the happy smile classifier."""


def run() -> None:
    """The `hsc-jax` console entry: the click group, in a process whose malloc keeps the memory
    of XLA's steps (see hsc_jax/allocator.py)."""
    restart_with_tuned_malloc()
    main()


if __name__ == "__main__":
    run()
