"""What the benchmark scripts share: the machine their numbers come from, how they time, and the
one JSON line of figures every runner ends with.

Runners import it as `benchmarks.support`. The standard library only, at import:
`benchmarks/torch_reference/` runs under an interpreter with torch and numpy alone, and
`train_step_seconds` imports JAX when called.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The FERPlus table the face-path, demo and robustness runners read by default: in the shared
# data folder beside the project's root (../shared/data, as tests/conftest.py finds it).
FERPLUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ferplus" / "ferplus.parquet"

# --- the machine -------------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU's model name: /proc/cpuinfo's, else lscpu's (on ARM /proc/cpuinfo names no
    model), else whatever `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    """'CPU <model>, <N> logical cores': the header every benchmark's table goes with."""
    return f"CPU {cpu_name()}, {os.cpu_count()} logical cores"


def machine_facts() -> dict[str, Any]:
    """The same facts for a JSON report: {"cpu": model, "cores": logical cores}."""
    return {"cpu": cpu_name(), "cores": os.cpu_count()}


def load_average_1m() -> float:
    return round(os.getloadavg()[0], 2)


def uptime() -> str:
    """`uptime`'s line (the load averages), recorded before and after a benchmark: a busy
    shared machine shows there."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


# --- timing ------------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], runs: int, warmup: int = 10) -> float:
    """Median milliseconds of one call over `runs` calls, after `warmup` untimed ones: a latency
    that a few slow calls on a busy machine do not move."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def seconds_per_call(fn: Callable[[], Any], calls: int, warmup: int) -> float:
    """Mean seconds per call over `calls` calls after `warmup` untimed ones (fn must block on
    its result, or the time is only the dispatch's)."""
    return seconds_and_kernel_per_call(fn, calls, warmup)[0]


def seconds_and_kernel_per_call(
    fn: Callable[[], Any], calls: int, warmup: int
) -> tuple[float, float, float]:
    """(seconds, page faults, kernel CPU-seconds) per call after `warmup` calls: the kernel's
    share shows how much of a step goes to faulting in freed memory (hsc_jax/allocator.py)."""
    for _ in range(warmup):
        fn()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    faults = after.ru_minflt + after.ru_majflt - before.ru_minflt - before.ru_majflt
    return seconds / calls, faults / calls, (after.ru_stime - before.ru_stime) / calls


def train_step_seconds(trainer: Any, images: Any, labels: Any, key: Any, steps: int) -> float:
    """Seconds for `steps` calls of a `Trainer`'s train step on one device-resident batch, each
    with its own key, waiting for the last state (JAX dispatches asynchronously)."""
    import jax

    started = time.perf_counter()
    for i in range(steps):
        trainer.state, _ = trainer.train_step(
            trainer.state, images, labels, jax.random.fold_in(key, i), 1e-4, 1.0
        )
    jax.block_until_ready(trainer.state)
    return time.perf_counter() - started


# --- reports -----------------------------------------------------------------------------------


def print_report(report: dict[str, Any], output: str | None) -> None:
    """Print a JSON report, and write it to `output` too when one is named."""
    text = json.dumps(report, indent=2)
    print(text)
    if output:
        Path(output).write_text(text + "\n")


def print_figures(benchmark: str, figures: dict[str, Any]) -> None:
    """Print a runner's figures as its last line: one JSON object, keys sorted, holding
    `benchmark` (the runner's module path, `python -m <benchmark>`), the machine's facts
    (`machine_facts`) and `figures`, so that a table in docs/ can be traced to its command.

    Numpy scalars and arrays become numbers and lists, paths and other objects strings, floats
    keep 6 significant digits (all of their integer part), and NaN or infinity becomes null
    (JSON has neither).
    """
    line = {**figures, "benchmark": benchmark, **machine_facts()}
    print(json.dumps(_plain(line), sort_keys=True, allow_nan=False), flush=True)


def _plain(value: Any) -> Any:
    """`value` with only what `json.dumps` writes: dicts (string keys), lists, str, int, float,
    bool and None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # 6 significant digits, but never fewer than the integer part has.
        places = 5 - math.floor(math.log10(abs(value))) if value else 0
        return round(float(value), max(places, 0))
    if hasattr(value, "tolist"):  # a numpy scalar or array, without importing numpy
        return _plain(value.tolist())
    return str(value)
