"""The `hsc-jax` command line: a thin click group whose commands live beside the code they run.

Commands are imported only when invoked, so `hsc-jax --help` answers without loading JAX.
Every command reports bad input (an `HscError`, a missing file) as one line with exit status 1
through `cli_support.user_errors`; any other exception is a bug and keeps its traceback. The
helpers the commands share live in `cli_support.py`, which imports none of them: this module
names the commands and imports nothing from them.
"""

from __future__ import annotations

import importlib

import click

from hsc_jax.allocator import restart_with_tuned_malloc
from hsc_jax.cli_support import CONTEXT_SETTINGS
from hsc_jax.xla_schedule import order_cpu_programs

# command name -> "module:attribute" of its click command
COMMANDS = {
    "data": "hsc_jax.data.cli:data",
    "train": "hsc_jax.train.cli:train",
    "predict": "hsc_jax.evaluation.cli:predict",
    "evaluate": "hsc_jax.evaluation.cli:evaluate",
    "convert-torch": "hsc_jax.train.cli:convert_torch",
    "teacher": "hsc_jax.train.cli:teacher",
    "export": "hsc_jax.export.cli:export",
    "exportonnx": "hsc_jax.export.cli:export",  # the reference's name
    "export-yunet": "hsc_jax.export.cli:export_yunet",
}

HELP = {
    "data": "Build, synthesise and inspect datasets.",
    "train": "Train a smile classifier.",
    "predict": "Smile probabilities of image files from a checkpoint.",
    "evaluate": "Metrics and figures of a checkpoint or ONNX model on a split.",
    "convert-torch": "Turn a reference PyTorch checkpoint into one of ours.",
    "teacher": "Teacher probabilities of a dataset's images, to distil from.",
    "export": "Export a checkpoint to ONNX.",
    "exportonnx": "Alias of export.",
    "export-yunet": "Export libfacedetection's YuNet face detector to ONNX.",
}


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


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="hsc-jax")
def main() -> None:
    """HSC-JAX: train, evaluate and export the happy smile classifier."""


def run() -> None:
    """The `hsc-jax` console entry: the click group, in a process whose XLA orders programs for
    memory (hsc_jax/xla_schedule.py) and whose malloc keeps the memory of XLA's steps
    (hsc_jax/allocator.py)."""
    order_cpu_programs()
    restart_with_tuned_malloc()
    main()


if __name__ == "__main__":
    run()
