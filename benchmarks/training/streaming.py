"""Peak memory and training speed of `--data_cache ram` against `stream`, side by side.

    python -m benchmarks.training.streaming --data_root /tmp/hsc-bench/synth500k --size p \\
        --steps 40 --stream_cache_dir /tmp/hsc-bench/index --output /tmp/hsc-bench/stream.json

Each run is `hsc-jax train` in its own process: one epoch cut to --steps steps, batch 256, a 2 %
validation split. It reports the peak resident memory of that process (the kernel's high-water
mark, VmHWM, sampled until it exits), the training images/s over the steps after the first
(which compiles), the first step's time, and the wall time (loading, decoding or indexing,
training, validation). Runs of the modes alternate for --repeats rounds so that a busy moment of
a shared machine does not land on one mode only; the load average is recorded with every run.

`--before TREE` adds a `ram` run that imports hsc_jax from another source tree (say
`git archive HEAD | tar -x -C /tmp/before`): the speed of the in-memory path before and after a
change, measured together. A stream index is built on the first stream run (its time is in
that run's wall time) and reused afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from benchmarks.support import (
    load_average_1m,
    machine_facts,
    machine_line,
    print_figures,
    print_report,
)

REPO = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--size", default="p")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40, help="Training steps per run.")
    parser.add_argument("--modes", nargs="+", default=["ram", "stream"])
    parser.add_argument("--repeats", type=int, default=1, help="Rounds of all modes.")
    parser.add_argument("--before", default=None, help="Source tree for a 'ram (before)' run.")
    parser.add_argument("--stream_cache_dir", default=None)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument(
        "--split",
        nargs=3,
        type=float,
        default=(0.98, 0.02, 0.0),
        metavar=("TRAIN", "VAL", "TEST"),
        help="Ratios for rows without a split.",
    )
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="More train flags.")
    parser.add_argument("--output", default=None, help="Write the results as JSON here too.")
    return parser


def high_water_mark(pid: int) -> int | None:
    """VmHWM of a live process in bytes: the most resident memory it has ever held."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def watch_memory(process: subprocess.Popen, peak: dict[str, int]) -> None:
    """Sample until the process exits: VmHWM where /proc has it, else the largest RSS seen."""
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            rss = watched.memory_info().rss
        except psutil.Error:
            break
        hwm = high_water_mark(process.pid)
        peak["bytes"] = max(peak.get("bytes", 0), rss, hwm or 0)
        time.sleep(0.05)


def train_command(args: argparse.Namespace, mode: str, output_dir: str, before: bool) -> list[str]:
    train, val, test = args.split
    command = [sys.executable, "-m", "hsc_jax", "train", "--data_root", args.data_root]
    command += ["--output_dir", output_dir, "--epochs", "1", "--size", args.size]
    command += ["--batch_size", str(args.batch_size), "--max_steps_per_epoch", str(args.steps)]
    command += ["--num_workers", str(args.num_workers), "--train_ratio", str(train)]
    command += ["--val_ratio", str(val), "--test_ratio", str(test)]
    if not before:  # the tree before this change has neither flag: it always decodes into RAM
        command += ["--data_cache", mode]
        if args.stream_cache_dir:
            command += ["--stream_cache_dir", args.stream_cache_dir]
    return command + list(args.extra)


def run_once(args: argparse.Namespace, label: str, mode: str, tree: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as output_dir:
        env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
        if tree is not None:
            env["PYTHONPATH"] = tree
        load_before = load_average_1m()
        started = time.perf_counter()
        log_path = Path(output_dir).with_suffix(".log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                train_command(args, mode, output_dir, tree is not None),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tree or REPO,
            )
            peak: dict[str, int] = {}
            watcher = threading.Thread(target=watch_memory, args=(process, peak), daemon=True)
            watcher.start()
            code = process.wait()
            watcher.join()
        wall = time.perf_counter() - started
        console = log_path.read_text()
        log_path.unlink()
        if code != 0:
            raise SystemExit(f"{label}: hsc-jax train failed ({code}):\n{console[-3000:]}")
        timing = json.loads((Path(output_dir) / "history.json").read_text())[0]["timing"]
        steps = args.steps
        steady_s = timing["epoch_time_s"] - timing["first_step_s"]
        return {
            "label": label,
            "mode": mode,
            "peak_rss_gib": round(peak.get("bytes", 0) / 2**30, 3),
            "train_images_per_s": round((steps - 1) * args.batch_size / steady_s, 1),
            "first_step_s": round(timing["first_step_s"], 2),
            "data_wait_share": round(timing["data_wait_s"] / timing["epoch_time_s"], 3),
            "wall_s": round(wall, 1),
            "load_average_1m": [load_before, load_average_1m()],
        }


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line(), flush=True)
    runs = [(mode, mode, None) for mode in args.modes]
    if args.before:
        runs.insert(0, ("ram (before)", "ram", str(Path(args.before).resolve())))
    results = []
    for round_index in range(args.repeats):
        for label, mode, tree in runs:
            result = run_once(args, label, mode, tree)
            result["round"] = round_index + 1
            results.append(result)
            print(json.dumps(result), flush=True)
    report = {
        **machine_facts(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "data_root": args.data_root,
        "size": args.size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "runs": results,
    }
    print_report(report, args.output)
    print_figures("benchmarks.training.streaming", {"args": vars(args), **report})


if __name__ == "__main__":
    main()
