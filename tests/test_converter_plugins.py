"""The selective import of jax2onnx's plugins (hsc_jax/export/converter_plugins.py) and the
private jax2onnx flag it relies on: a jax2onnx release that drops the flag, or stops honouring
it, fails here instead of making every export 30 s slower."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from hsc_jax.export import converter_plugins
from hsc_jax.export.converter_plugins import (
    JAX2ONNX_IMPORTED_FLAG,
    PLUGIN_PACKAGE,
    SKIPPED_PLUGIN_TREES,
    plugin_modules,
)

REPO = Path(__file__).resolve().parents[1]
PIN_NOTE = (
    "jax2onnx changed what hsc_jax/export/converter_plugins.py relies on; adapt it (or find the "
    "public way that may exist now) before moving the pin in pyproject.toml"
)

# A fresh interpreter: this one may have imported every plugin already (another test exported).
_FRESH_IMPORT = textwrap.dedent(
    f"""
    import json, sys
    from jax2onnx.plugins import plugin_system
    from hsc_jax.export.converter_plugins import load_converter_plugins

    flag = {JAX2ONNX_IMPORTED_FLAG!r}
    before = getattr(plugin_system, flag, "missing")
    load_converter_plugins()
    after = getattr(plugin_system, flag, "missing")
    plugin_system.import_all_plugins()  # what jax2onnx's conversion runs first
    skipped = tuple({PLUGIN_PACKAGE!r} + "." + tree for tree in {SKIPPED_PLUGIN_TREES!r})
    print(json.dumps({{
        "before": before,
        "after": after,
        "skipped_imported": sorted(m for m in sys.modules if m.startswith(skipped)),
        "nnx_conv_imported": "jax2onnx.plugins.flax.nnx.conv" in sys.modules,
    }}))
    """
)


def test_jax2onnx_honours_the_flag_and_leaves_the_skipped_trees_out():
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_IMPORT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] is False, (
        f"plugin_system.{JAX2ONNX_IMPORTED_FLAG} is not False: {PIN_NOTE}"
    )
    assert seen["after"] is True, PIN_NOTE
    assert seen["nnx_conv_imported"], "the selective import left out the plugins HSC models use"
    assert seen["skipped_imported"] == [], f"import_all_plugins ignored the flag: {PIN_NOTE}"


def test_the_plugin_list_leaves_out_the_skipped_trees_only():
    from jax2onnx.plugins import plugin_system

    root = Path(plugin_system.__file__).parent
    names = plugin_modules(root)
    assert f"{PLUGIN_PACKAGE}.flax.nnx.conv" in names
    assert f"{PLUGIN_PACKAGE}.plugin_system" not in names
    for tree in SKIPPED_PLUGIN_TREES:
        assert (root / tree).is_dir(), f"jax2onnx has no plugins/{tree} any more: {PIN_NOTE}"
        assert not any(name.startswith(f"{PLUGIN_PACKAGE}.{tree}.") for name in names)


@pytest.mark.parametrize(
    ("flag", "import_succeeds", "imports", "flag_after"),
    [
        (False, True, 1, True),  # ours replaces jax2onnx's full import
        (False, False, 1, False),  # a failed import leaves jax2onnx its own
        (True, True, 0, True),  # everything is imported already
        (None, True, 0, None),  # no flag: jax2onnx does its own import, untouched
    ],
)
def test_the_flag_is_set_only_after_a_selective_import_succeeds(
    flag: bool | None, import_succeeds: bool, imports: int, flag_after: bool | None
):
    plugin_system = SimpleNamespace()
    if flag is not None:
        setattr(plugin_system, JAX2ONNX_IMPORTED_FLAG, flag)
    calls = []

    def import_plugins() -> bool:
        calls.append(1)
        return import_succeeds

    converter_plugins._instead_of_full_import(plugin_system, import_plugins)
    assert len(calls) == imports
    assert getattr(plugin_system, JAX2ONNX_IMPORTED_FLAG, None) == flag_after
