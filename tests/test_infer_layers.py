"""The hsc_infer library never imports its demo app: hsc_infer/demo/ builds on the library, and
a user of the library (or hsc_jax) never pays for the demo's tracking, drawing and threads."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "hsc_infer"
APP = "hsc_infer.demo"


def module_name(path: Path) -> str:
    """hsc_infer/detectors/base.py -> hsc_infer.detectors.base; a package's __init__ -> its name."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> list[Path]:
    app_dir = PACKAGE_DIR / "demo"
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if app_dir not in p.parents)


def imported_names(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything `source` imports, relative imports resolved; for
    `from a import b` both `a` and `a.b` (b may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def imports_app(name: str) -> bool:
    return name == APP or name.startswith(APP + ".")


@pytest.mark.parametrize(
    ("source", "module", "is_package"),
    [
        ("import hsc_infer.demo.app", "hsc_infer.predict", False),
        ("from hsc_infer import demo", "hsc_infer.predict", False),
        ("from hsc_infer.demo.tracking import iou", "hsc_infer.crops", False),
        ("from .demo import app", "hsc_infer.predict", False),
        ("from . import demo", "hsc_infer", True),
        ("from ..demo import pipeline", "hsc_infer.detectors.base", False),
        ("def f():\n    from hsc_infer.demo import app", "hsc_infer.frame", False),
    ],
)
def test_the_check_sees_every_form_of_import(source, module, is_package):
    names = [name for _, name in imported_names(source, module, is_package)]
    assert any(imports_app(name) for name in names), names


def test_the_check_passes_imports_of_the_library():
    source = "from hsc_infer import demographics\nfrom . import frame\nimport hsc_infer.inputs"
    names = [name for _, name in imported_names(source, "hsc_infer.predict", False)]
    assert not any(imports_app(name) for name in names), names


def test_no_library_module_imports_the_demo():
    modules = library_modules()
    assert {"predict.py", "frame.py", "inputs.py", "base.py"} <= {p.name for p in modules}
    offences = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{line}: {name}"
        for path in modules
        for line, name in imported_names(
            path.read_text(), module_name(path), path.name == "__init__.py"
        )
        if imports_app(name)
    ]
    assert offences == []


def test_importing_the_whole_library_loads_no_demo_module():
    names = [module_name(path) for path in library_modules()]
    code = (
        f"import importlib, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m == {APP!r} or m.startswith({APP + '.'!r}))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
