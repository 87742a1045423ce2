"""hsc_infer must run without JAX and its training stack."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hsc_infer.testing import build_tiny_classifier, build_tiny_deimv2, write_synthetic_video

TRAINING_STACK = ("jax", "flax", "optax", "orbax", "grain", "jax2onnx")


def test_importing_never_imports_the_training_stack():
    code = (
        "import hsc_infer, hsc_infer.demo, hsc_infer.predict, sys; "
        f"assert not any(m.split('.')[0] in {set(TRAINING_STACK)!r} for m in sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{set(TRAINING_STACK)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_demo_runs_with_jax_imports_blocked(tmp_path):
    pytest.importorskip("onnx")
    hsc = build_tiny_classifier(tmp_path / "hsc.onnx")
    deimv2 = build_tiny_deimv2(tmp_path / "det.onnx", np.array([[7, 0.1, 0.1, 0.5, 0.5, 0.9]]))
    video = write_synthetic_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out"
    # A None entry in sys.modules makes `import jax` raise ImportError.
    script = textwrap.dedent(
        f"""
        import runpy, sys
        for name in {TRAINING_STACK!r}:
            sys.modules[name] = None
        sys.argv = ["hsc_infer.demo", "-v", {str(video)!r}, "-hm", {str(hsc)!r},
                    "-m", {str(deimv2)!r}, "--headless", "--output-dir", {str(out)!r}]
        runpy.run_module("hsc_infer.demo", run_name="__main__")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    lines = (out / "output.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["heads"][0]["track_id"] == 1
    assert (out / "output.mp4").is_file()
