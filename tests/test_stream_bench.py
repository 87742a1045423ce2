"""The benchmark scripts run end to end on a CPU-only machine (tiny settings): the GPU check
reports what needs a GPU as skipped, and the stream benchmark measures both of its numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsc_jax.data.synth import write_synthetic_shards

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _cpu_env() -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    return env


def test_the_gpu_check_runs_on_a_cpu_and_skips_what_needs_a_gpu(tmp_path: Path):
    output = tmp_path / "gpu.json"
    command = [
        "bash",
        str(REPO / "benchmarks" / "inference" / "gpu.sh"),
        "--size",
        "p",
        "--batch_size",
        "16",
    ]
    command += ["--image_size", "32", "--steps", "2", "--count", "96", "--runs", "3"]
    command += ["--num_workers", "1", "--output", str(output)]
    env = _cpu_env()
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(output.read_text())
    rows = {row["what"]: row for row in summary["results"]}
    assert rows["train step on device, float32"]["images_per_s"] > 0
    assert "accelerator" in rows["train step on device, bfloat16"]["skipped"]
    for cache in ("ram", "stream"):
        assert rows[f"training loop, --data_cache {cache}"]["images_per_s"] > 0
    cpu = next(r for r in summary["results"] if r["what"].startswith("onnxruntime cpu"))
    assert cpu["batch1_ms"] > 0 and cpu["batch64_images_per_s"] > 0
    for provider in ("cuda", "tensorrt"):
        row = next(r for r in summary["results"] if r["what"].startswith(f"onnxruntime {provider}"))
        assert "skipped" in row
    assert summary["machine"]["jax_backend"] == "cpu"


def test_the_stream_benchmark_measures_memory_and_speed(tmp_path: Path):
    data = tmp_path / "set"
    write_synthetic_shards(data, 120, seed=0, shards=2)
    output = tmp_path / "stream.json"
    command = [sys.executable, "-m", "benchmarks.training.streaming", "--data_root", str(data)]
    command += ["--size", "p", "--batch_size", "16", "--steps", "3", "--modes", "stream"]
    command += ["--stream_cache_dir", str(tmp_path / "index"), "--split", "0.8", "0.2", "0"]
    command += ["--output", str(output), "--extra", "--image_size", "32"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=_cpu_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    report = json.loads(output.read_text())
    (run,) = report["runs"]
    assert run["mode"] == "stream" and 0.1 < run["peak_rss_gib"] < 8
    assert run["train_images_per_s"] > 0 and report["cpu"]
    assert (tmp_path / "index").is_dir()
