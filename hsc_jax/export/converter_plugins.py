"""jax2onnx's primitive plugins, imported without the trees HSC models never use.

jax2onnx imports every plugin module on first use (`plugin_system.import_all_plugins`); the
Equinox ones build and compile example networks at import time (about 30 s on a 2-core machine)
and HSC models use none of them, nor the examples. `load_converter_plugins` imports the others
itself, then tells jax2onnx that its import is done.

jax2onnx 0.17.1 has no public way to say so: `import_all_plugins` walks the whole tree unless
the private module flag `_already_imported_plugins` is set. `_instead_of_full_import` is the one
place that touches it; jax2onnx is pinned (pyproject.toml), and tests/test_converter_plugins.py
fails when the flag goes or stops keeping the skipped trees out, so moving the pin is caught by
the tests rather than by a 30 s export.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

PLUGIN_PACKAGE = "jax2onnx.plugins"
# Plugin folders HSC models never need (see the module docstring).
SKIPPED_PLUGIN_TREES = ("equinox", "examples")
# jax2onnx 0.17.1's guard of `plugin_system.import_all_plugins` (private; see the docstring).
JAX2ONNX_IMPORTED_FLAG = "_already_imported_plugins"


def plugin_modules(root: Path) -> list[str]:
    """Names of the plugin modules under jax2onnx's plugin folder `root`, in a fixed order,
    without the skipped trees, the packages' __init__ and plugin_system itself."""
    names = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        if relative.parts[0] in SKIPPED_PLUGIN_TREES or path.name == "__init__.py":
            continue
        if path.name == "plugin_system.py":
            continue
        names.append(".".join((PLUGIN_PACKAGE, *relative.parts)))
    return names


def load_converter_plugins() -> None:
    """Import jax2onnx's primitive plugins, skipping the Equinox and example trees.

    Any failure falls back to jax2onnx's own full import.
    """
    try:
        from jax2onnx.plugins import plugin_system
    except ImportError:
        return

    def import_selected() -> bool:
        try:
            for name in plugin_modules(Path(plugin_system.__file__).parent):
                importlib.import_module(name)
        except Exception as e:  # an unexpected layout: let jax2onnx import everything itself
            logger.debug("selective plugin import failed (%s); using the full import", e)
            return False
        return True

    _instead_of_full_import(plugin_system, import_selected)


def _instead_of_full_import(plugin_system: ModuleType, import_plugins: Callable[[], bool]) -> None:
    """Run `import_plugins` in place of jax2onnx's import of every plugin: unless jax2onnx's
    private flag says that import is done already (or the flag is gone, when jax2onnx is left
    to do its own), run it, and when it succeeds set the flag so jax2onnx skips its own."""
    if getattr(plugin_system, JAX2ONNX_IMPORTED_FLAG, True):
        return
    if import_plugins():
        setattr(plugin_system, JAX2ONNX_IMPORTED_FLAG, True)
