"""Test helpers: error-path ONNX graphs, the detector contract, the demo run without JAX, and
the environment of child interpreters that import from tests/.

Tests import this as `from helpers import ...` (pytest puts tests/ on sys.path). The tiny
stand-in models and the synthetic video live in benchmarks/inference/stand_ins.py, which
`benchmarks/inference/latency.py` uses too; they are imported here so the tests keep one place
to import helpers from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.inference.stand_ins import (
    OPSET,
    build_tiny_classifier,
    build_tiny_deimv2,
    require_onnx,
    synthetic_frame,
    write_synthetic_video,
)

__all__ = [
    "TRAINING_STACK",
    "assert_detector_contract",
    "build_custom_graph",
    "build_tiny_classifier",
    "build_tiny_deimv2",
    "child_environment",
    "run_demo_without_jax",
    "synthetic_frame",
    "write_synthetic_video",
]

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def build_custom_graph(path: str | Path, inputs, outputs, nodes, initialisers=()) -> Path:
    """Save a graph from value-info triples (name, elem_type, shape): for error-path tests."""
    onnx = require_onnx()
    helper = onnx.helper
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
        list(initialisers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    path = Path(path)
    onnx.save(model, str(path))
    return path


def assert_detector_contract(detector, frame: np.ndarray, kind: str) -> list:
    """What hsc_infer.detectors.base.Detector promises: called on an (H, W, 3) uint8 BGR frame,
    a list of Detection whose boxes are int (x1, y1, x2, y2) pixels inside the frame, x2/y2
    exclusive and non-empty, with a finite score and the detector's kind. The frame is untouched.
    """
    from hsc_infer.detectors import Detection

    before = frame.copy()
    found = detector(frame)
    h, w = frame.shape[:2]
    assert isinstance(found, list)
    for detection in found:
        assert isinstance(detection, Detection)
        assert len(detection.box) == 4 and all(type(v) is int for v in detection.box)
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, (detection.box, frame.shape)
        assert np.isfinite(detection.score) and 0.0 <= detection.score <= 1.0
        assert detection.kind == kind
    np.testing.assert_array_equal(frame, before)
    return found


# What hsc_infer must run without: the JAX training side.
TRAINING_STACK = ("jax", "jaxlib", "flax", "optax", "orbax", "grain", "jax2onnx")


def run_demo_without_jax(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m hsc_infer.demo ARGV` in a fresh interpreter where every import of the training
    stack fails (a None entry in sys.modules makes `import jax` raise ImportError)."""
    script = textwrap.dedent(
        f"""
        import runpy, sys
        for name in {TRAINING_STACK!r}:
            sys.modules[name] = None
        sys.argv = ["hsc_infer.demo", *{list(map(str, argv))!r}]
        runpy.run_module("hsc_infer.demo", run_name="__main__")
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=timeout)


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`, and tests/ and the project root first on
    PYTHONPATH (as `python -m pytest` from the root has them on sys.path): a child interpreter
    imports `fakes`, the test modules, `benchmarks` and this checkout's packages as the tests do."""
    env = dict(os.environ, **overrides)
    paths = [str(TESTS), str(ROOT), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def start_python(code: str, **environ: str) -> subprocess.Popen:
    """A child interpreter running `code` (dedented) on the CPU backend with `environ` on top of
    `child_environment`: for what is fixed when JAX starts (device count, XLA flags), while the
    test goes on in this process."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_environment(JAX_PLATFORMS="cpu", **environ),
    )


def json_answer(child: subprocess.Popen, timeout: float = 300) -> Any:
    """The JSON of the child's last output line, once it has exited cleanly."""
    stdout, stderr = child.communicate(timeout=timeout)
    assert child.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])
