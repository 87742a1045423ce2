"""The `hsc-jax` console script: checks that the training extra is installed, then runs the CLI.

`pip install hsc-jax` (inference alone) installs this script too, but not click, JAX and the
rest of the training stack. Without this check the script would die in a ModuleNotFoundError
traceback; instead it says in one line what to install. Only the standard library is imported
before the check.
"""

from __future__ import annotations

import importlib.util
import sys

# Top-level modules of the `train` extra (pyproject.toml) that the command line imports; a test
# checks that each one belongs to a distribution the extra lists.
TRAINING_MODULES = (
    "click",
    "jax",
    "flax",
    "optax",
    "orbax",
    "grain",
    "jax2onnx",
    "onnx",
    "pandas",
    "pyarrow",
)

# Run in the project's source folder, where `pip install .` installed the inference part from.
INSTALL_HINT = "pip install '.[train]' in the hsc-jax source folder"


def missing_training_modules() -> list[str]:
    """The training modules that cannot be imported here (found without importing them)."""
    return [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]


def run() -> None:
    """Entry point of the `hsc-jax` script and of `python -m hsc_jax`."""
    missing = missing_training_modules()
    if missing:
        sys.exit(
            f"Error: hsc-jax needs the training extra, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: run {INSTALL_HINT} "
            "(inference alone needs only hsc_infer: python -m hsc_infer.predict)"
        )
    from hsc_jax.cli import run as run_cli

    run_cli()
