"""hsc_infer must run without JAX and its training stack."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from helpers import (
    TRAINING_STACK,
    build_tiny_classifier,
    build_tiny_deimv2,
    run_demo_without_jax,
    write_synthetic_video,
)


def test_importing_never_imports_the_training_stack():
    code = (
        "import hsc_infer, hsc_infer.demo.app, hsc_infer.predict, sys; "
        f"assert not any(m.split('.')[0] in {set(TRAINING_STACK)!r} for m in sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{set(TRAINING_STACK)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_demo_runs_with_jax_imports_blocked(tmp_path):
    hsc = build_tiny_classifier(tmp_path / "hsc.onnx")
    deimv2 = build_tiny_deimv2(tmp_path / "det.onnx", np.array([[7, 0.1, 0.1, 0.5, 0.5, 0.9]]))
    video = write_synthetic_video(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out"
    result = run_demo_without_jax(
        [
            "-v",
            video,
            "-hm",
            hsc,
            "-m",
            deimv2,
            "--headless",
            "--confirm-hits",
            "1",
            "--output-dir",
            out,
        ]
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = (out / "output.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["heads"][0]["track_id"] == 1
    assert (out / "output.mp4").is_file()
