"""Every benchmark runner (`python -m benchmarks.<subject>.<name>`) answers `--help`, names the
machine it runs on, and ends with one JSON line of its figures (`benchmarks.support.print_figures`)
that says which runner printed it, so that a table in docs/ can be traced to its command.

Cheap on purpose: the parsers are called in this process, the rest is read from the source, and
only the synthetic-image benchmark runs, with tiny settings.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.support import machine_facts, machine_line, print_figures

REPO = Path(__file__).resolve().parents[1]

RUNNERS = (
    "benchmarks.face_path.check_crops",
    "benchmarks.face_path.engines",
    "benchmarks.face_path.face_check_data",
    "benchmarks.face_path.landmarks",
    "benchmarks.face_path.run",
    "benchmarks.face_path.run_clips",
    "benchmarks.inference.demo",
    "benchmarks.inference.gpu",
    "benchmarks.inference.latency",
    "benchmarks.inference.predict_detect",
    "benchmarks.robustness.ferplus_shift",
    "benchmarks.torch_reference.step",
    "benchmarks.torch_reference.train",
    "benchmarks.training.memory",
    "benchmarks.training.models",
    "benchmarks.training.pipeline",
    "benchmarks.training.profile",
    "benchmarks.training.streaming",
    "benchmarks.training.synth",
    "benchmarks.training.vs_reference",
)
# Read when the runner prints its first line: the machine's line or facts.
MACHINE_HEADERS = {"machine_line", "machine_facts"}


def source_of(runner: str) -> str:
    return (REPO / Path(*runner.split("."))).with_suffix(".py").read_text()


def calls_to(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
    ]


def test_the_list_names_every_module_that_runs_as_a_command():
    found = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "benchmarks").rglob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )
    assert found == sorted(RUNNERS)


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_runner_answers_help(runner: str, capsys: pytest.CaptureFixture[str]):
    if runner.startswith("benchmarks.torch_reference."):
        pytest.importorskip("torch", reason="the PyTorch reference runs under its own interpreter")
    module = importlib.import_module(runner)
    with pytest.raises(SystemExit) as raised:
        module.build_parser().parse_args(["--help"])
    assert raised.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_runner_parses_with_its_parser_names_the_machine_and_prints_its_figures(
    runner: str,
):
    tree = ast.parse(source_of(runner))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"build_parser", "main"} <= functions
    assert calls_to(tree, "build_parser"), "main parses with build_parser, which --help checks"
    used = {getattr(node, "id", None) for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert used & MACHINE_HEADERS, "the output names the machine"
    figures = calls_to(tree, "print_figures")
    assert figures, "the output ends with the runner's figures"
    for call in figures:
        assert isinstance(call.args[0], ast.Constant) and call.args[0].value == runner


def test_print_figures_prints_one_json_line_with_the_runner_and_the_machine(
    capsys: pytest.CaptureFixture[str],
):
    figures = {
        "images_per_s": np.float32(1234.5678),
        "faces": np.int64(7),
        "found": np.bool_(True),
        "recall": float("nan"),
        "ms": np.array([0.123456789, 2.0]),
        "data": Path("/data/ferplus.parquet"),
        "rows": {0.1: (1, 2)},
        "params": 1234567.891,
    }
    print_figures("benchmarks.training.synth", figures)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")
    line = json.loads(out)
    assert line["benchmark"] == "benchmarks.training.synth"
    assert {key: line[key] for key in machine_facts()} == machine_facts()
    assert list(line) == sorted(line)
    assert line["images_per_s"] == 1234.57 and line["faces"] == 7 and line["found"] is True
    assert line["recall"] is None  # JSON has no NaN
    assert line["ms"] == [0.123457, 2.0] and line["params"] == 1234568.0
    assert line["data"] == "/data/ferplus.parquet" and line["rows"] == {"0.1": [1, 2]}


def test_support_imports_only_the_standard_library():
    # The PyTorch reference imports it under an interpreter with torch and numpy only.
    tree = ast.parse((REPO / "benchmarks" / "support.py").read_text())
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - sys.stdlib_module_names - {"__future__"} == set()


def test_the_synthetic_image_benchmark_ends_with_its_figures():
    command = [sys.executable, "-m", "benchmarks.training.synth", "--count", "20"]
    command += ["--repeats", "1", "--image-size", "32"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(machine_line())
    figures = json.loads(lines[-1])
    assert figures["benchmark"] == "benchmarks.training.synth"
    assert figures["cpu"] == machine_facts()["cpu"] and figures["cores"] == machine_facts()["cores"]
    assert figures["args"]["count"] == 20
    assert figures["wall_best_images_per_s"] > 0 and figures["mean_png_bytes"] > 0
