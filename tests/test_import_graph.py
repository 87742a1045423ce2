"""The project's modules import each other without loops, and each layer only downwards:
benchmarks -> hsc_jax -> hsc_infer.

Read from the source (every import statement, at module level or inside a function, plus the
commands that `hsc_jax/cli.py` loads by name), so a loop that only shows at run time, or only
on one code path, fails here first.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hsc_infer", "hsc_jax", "benchmarks")


def _module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


MODULES = _module_files()


def _imported(name: str, path: Path) -> set[str]:
    """Project modules that `name` imports; `from package import submodule` names the
    submodule, not the package's __init__."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1]])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    if name == "hsc_jax.cli":  # the lazily loaded commands
        found.update(re.findall(r'"(hsc_jax\.[\w.]+):\w+"', path.read_text()))
    return {module for module in found if module in MODULES}


GRAPH = {name: _imported(name, path) for name, path in MODULES.items()}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for module in GRAPH[todo.pop()] - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_no_module_imports_itself_through_others():
    loops = sorted(name for name in GRAPH if name in _reachable(name))
    assert loops == []


def test_the_shared_cli_helpers_import_no_command():
    commands = {name for name in MODULES if name.endswith(".cli")}
    assert _reachable("hsc_jax.cli_support") & commands == set()


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("hsc_jax.evaluation.cli", "hsc_jax.train.cli"),
        ("hsc_jax.models", "hsc_jax.data"),
        ("hsc_jax.data", "hsc_jax.models"),
        ("hsc_jax.data", "hsc_jax.train"),
        ("hsc_infer", "hsc_jax"),
        # benchmarks measure the product; the product never needs them (nor ships them)
        ("hsc_infer", "benchmarks"),
        ("hsc_jax", "benchmarks"),
        # the PyTorch reference trainer runs under an interpreter with torch and numpy only
        ("benchmarks.torch_reference", "hsc_jax"),
        ("benchmarks.torch_reference", "hsc_infer"),
    ],
)
def test_layers_import_only_downwards(importer: str, forbidden: str):
    starts = [name for name in MODULES if name == importer or name.startswith(f"{importer}.")]
    wrong = sorted(
        f"{start} -> {module}"
        for start in starts
        for module in _reachable(start)
        if module == forbidden or module.startswith(f"{forbidden}.")
    )
    assert wrong == []
