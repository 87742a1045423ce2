"""End to end: a fresh `hsc-jax train` process against a PyTorch run built the reference's way.

    .venv/bin/python -m benchmarks.training.vs_reference --repeats 3
    # keep the subset, the logs and every run's folder:
    .venv/bin/python -m benchmarks.training.vs_reference --repeats 2 --keep /tmp/e2e
    # smoke run, seconds:
    .venv/bin/python -m benchmarks.training.vs_reference --faces 300 --epochs 1 \
        --batch_size 32 --size p

Both sides train on the same FERPlus subset (N train faces and the same fraction of val and
test) with the same settings: named size, batch, epochs, balanced resampling, AdamW at the
reference defaults, validation every epoch, a test pass of the best checkpoint. Each run is a
whole fresh process timed by its wall clock (start-up, data, compile, train, validation, test,
outputs), the sides interleaved so that drifting machine load hits all alike. PyTorch runs in
each layout of `--torch_layouts`: channels_last, its faster one on a CPU, and NCHW, its default
and the one the reference trains in. Prints seconds per run and, for each PyTorch layout, its
best time over JAX's (above 1: JAX is faster).

The JAX runs share a compilation cache that starts empty: the first run compiles its steps
(cold), the later ones load them (warm), as a user's second run of a recipe would; both ratios
are printed. PyTorch runs as the reference does, under glibc's default malloc; `--torch_malloc
tuned` gives it the settings `hsc-jax` runs under (hsc_jax/allocator.py) for comparison.

The PyTorch side (benchmarks/torch_reference/train.py) runs under its own interpreter, which has
torch and numpy only, so it gets the subset decoded into a .npz by the same data layer that
`hsc-jax train` reads it with: both train on exactly the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from benchmarks.support import load_average_1m, machine_line, print_figures
from hsc_jax import atomic
from hsc_jax.allocator import OPT_OUT, tuned_environment
from hsc_jax.data.labels import SPLITS, normalise_split
from hsc_jax.train.config import RECOMPUTE, TrainConfig

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ferplus" / "ferplus.parquet"
# Run as a module from the project root, so that it finds its package under an interpreter
# that has only torch and numpy.
TORCH_MODULE = "benchmarks.torch_reference.train"
DEFAULT_TORCH_PYTHON = "/tmp/torchenv/bin/python"
TORCH_INSTALL = (
    "python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy"
)
TORCH_LAYOUTS = ("channels_last", "nchw")  # as benchmarks/torch_reference/train.py --layout
IMAGE_SIZE = (48, 48)  # the trainer's default input size, used by both sides
LOG_TAIL_CHARS = 3000


# --- the subset ----------------------------------------------------------------------------


def subset_rows(splits: Sequence[object], train_faces: int, seed: int) -> np.ndarray:
    """Ascending row positions: `train_faces` random train rows (all when fewer) and the same
    fraction of the val and test rows (at least one of each present split); deterministic in
    `seed`. Rows of other splits (unassigned, unknown) are left out: the run needs fixed splits.
    """
    names = np.array([normalise_split(value) or "" for value in splits], dtype=object)
    train = np.flatnonzero(names == "train")
    if len(train) == 0:
        raise ValueError("the dataset has no train rows to take a subset of")
    fraction = min(1.0, train_faces / len(train))
    rng = np.random.default_rng(seed)
    chosen = []
    for name in SPLITS:
        members = np.flatnonzero(names == name)
        share = train_faces if name == "train" else max(1, round(fraction * len(members)))
        chosen.append(rng.choice(members, size=min(len(members), share), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def write_subset(source: Path, target: Path, train_faces: int, seed: int) -> dict[str, int]:
    """Write the subset's rows (every column) to the parquet file `target`; rows per split."""
    if "split" not in pq.read_schema(source).names:
        raise ValueError(f"{source} has no split column; the benchmark needs train/val/test rows")
    splits = pq.read_table(source, columns=["split"]).column("split").to_pylist()
    rows = subset_rows(splits, train_faces, seed)
    with atomic.atomic_path(target) as temporary:
        pq.write_table(pq.read_table(source).take(rows), temporary)
    taken = [normalise_split(splits[row]) for row in rows]
    return {name: taken.count(name) for name in SPLITS}


def write_npz(parquet: Path, target: Path) -> dict[str, int]:
    """Decode the subset with the data layer `hsc-jax train` uses (same rows, same leak rule)
    into images (N, H, W, 3) uint8 RGB, labels (N,) and split (N,) names; rows per split."""
    from hsc_jax.data.dataset import load_dataset

    dataset = load_dataset(parquet, image_size=IMAGE_SIZE)
    parts = {name: dataset.splits[name] for name in SPLITS}
    np.savez(
        target,
        images=np.concatenate([np.asarray(part.images) for part in parts.values()]),
        labels=np.concatenate([part.labels for part in parts.values()]).astype(np.int64),
        split=np.array([name for name, part in parts.items() for _ in range(len(part))]),
    )
    return {name: len(part) for name, part in parts.items()}


# --- the two commands ----------------------------------------------------------------------


def jax_command(data: Path, output_dir: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "hsc_jax", "train",
        "--data_root", str(data),
        "--output_dir", str(output_dir),
        "--size", args.size,
        "--batch_size", str(args.batch_size),
        "--epochs", str(args.epochs),
        "--train_resampling", "balanced",
        "--device", "cpu",
        "--recompute", args.recompute,
    ]  # fmt: skip


def torch_command(
    data: Path, output_dir: Path, args: argparse.Namespace, layout: str = "channels_last"
) -> list[str]:
    return [
        args.torch_python, "-m", TORCH_MODULE,
        "--data", str(data),
        "--output_dir", str(output_dir),
        "--size", args.size,
        "--batch_size", str(args.batch_size),
        "--epochs", str(args.epochs),
        "--image_size", str(IMAGE_SIZE[0]),
        "--layout", layout,
    ]  # fmt: skip


def check_torch_python(path: str) -> None:
    """SystemExit with the way to make one unless `path` is an interpreter that imports torch."""
    install = f"create it with: {TORCH_INSTALL}"
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        raise SystemExit(f"--torch_python {path}: no such interpreter; {install}")
    probe = subprocess.run([path, "-c", "import torch, numpy"], capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"--torch_python {path} cannot import torch and numpy ({last}); {install}")


# --- running and reporting -----------------------------------------------------------------


def timed_run(command: list[str], log_path: Path, environ: dict[str, str]) -> float:
    """Wall-clock seconds of the whole child process."""
    with open(log_path, "w") as log:
        started = time.perf_counter()
        result = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=environ
        )
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = log_path.read_text()[-LOG_TAIL_CHARS:]
        raise SystemExit(f"{' '.join(command)}\nfailed with exit code {result.returncode}:\n{tail}")
    return seconds


def environments(work: Path, torch_malloc: str) -> dict[str, dict[str, str]]:
    """Each side's environment: JAX with its own compilation cache, which starts empty; PyTorch
    with glibc's default malloc or the settings hsc-jax restarts itself under."""
    jax_env = {**os.environ, "HSC_JAX_CACHE_DIR": str(work / "jax-compilation-cache")}
    torch_env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if torch_malloc == "tuned":
        torch_env = tuned_environment({**torch_env, OPT_OUT: ""}) or torch_env
    return {"jax": jax_env, "torch": torch_env}


def run_scores(summary_path: Path) -> dict[str, float | None]:
    """Best validation F1 and test F1 from a run's summary.json: both sides learned alike."""
    summary = json.loads(summary_path.read_text())
    test = (summary.get("test_metrics") or {}).get("f1")
    return {"best_val_f1": summary.get("best_f1"), "test_f1": test}


def scores(summary_path: Path) -> str:
    found = run_scores(summary_path)
    return f"best val F1 {_number(found['best_val_f1'])}, test F1 {_number(found['test_f1'])}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def run_interleaved(
    work: Path, parquet: Path, npz: Path, args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, list[dict]]]:
    """JAX, then PyTorch in each layout asked for, and again: seconds per run of each side, and
    each run's best validation F1 and test F1."""
    builders = {"jax": (partial(jax_command, parquet), "jax")}
    for layout in args.torch_layouts:
        builders[f"torch {layout}"] = (partial(torch_command, npz, layout=layout), "torch")
    seconds: dict[str, list[float]] = {side: [] for side in builders}
    learned: dict[str, list[dict]] = {side: [] for side in builders}
    environ = environments(work, args.torch_malloc)
    for repeat in range(1, args.repeats + 1):
        for side, (build, kind) in builders.items():
            name = f"{side.replace(' ', '_')}_{repeat}"
            print(
                f"[{side} {repeat}/{args.repeats}] {machine_line()}, "
                f"load average (1 min) {load_average_1m():.2f}",
                flush=True,
            )
            took = timed_run(build(work / name, args), work / f"{name}.log", environ[kind])
            seconds[side].append(took)
            learned[side].append(run_scores(work / name / "summary.json"))
            print(f"  {side}: {took:.1f} s ({scores(work / name / 'summary.json')})", flush=True)
    return seconds, learned


def report(seconds: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Seconds per run, then for each PyTorch side the ratio to the cold JAX run and to the
    best warm one; returns those ratios by side ({"cold": r, "warm": r})."""
    for side, values in seconds.items():
        runs = ", ".join(f"{value:.1f}" for value in values)
        print(f"{side:21s} seconds per run: {runs}")
    cold, warm = seconds["jax"][0], seconds["jax"][1:]
    ratios = {}
    for side in (side for side in seconds if side != "jax"):
        torch_best = min(seconds[side])
        ratios[side] = {"cold": torch_best / cold}
        line = f"ratio {side} (best) / jax: compile cache cold {torch_best / cold:.2f}"
        if warm:
            ratios[side]["warm"] = torch_best / min(warm)
            line += f", warm (best) {torch_best / min(warm):.2f}"
        print(line)
    return ratios


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="FERPlus parquet")
    parser.add_argument("--faces", type=int, default=4000, help="train faces in the subset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--size", default="s", help="named size p|n|t|s|c|m|l")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side, interleaved")
    parser.add_argument("--seed", type=int, default=0, help="which faces the subset takes")
    parser.add_argument(
        "--recompute",
        default=TrainConfig(data_root="").recompute,
        choices=RECOMPUTE,
        help="hsc-jax train --recompute (default: its own)",
    )
    parser.add_argument("--torch_python", default=DEFAULT_TORCH_PYTHON)
    parser.add_argument(
        "--torch_malloc",
        choices=("system", "tuned"),
        default="system",
        help="PyTorch under glibc's default malloc (as the reference runs) or hsc-jax's settings",
    )
    parser.add_argument(
        "--torch_layouts",
        type=lambda text: text.split(","),
        default=["channels_last", "nchw"],
        help="PyTorch memory formats to run, comma separated: channels_last (its faster one on "
        "a CPU), nchw (its default, which the reference trains in)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="work in this folder and keep it (subset, logs, run folders); default: a "
        "temporary one",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.torch_layouts) - set(TORCH_LAYOUTS))
    if unknown or not args.torch_layouts:
        parser.error(f"--torch_layouts: choose from {', '.join(TORCH_LAYOUTS)}, got {unknown}")
    return args


def check_keep_folder(path: Path | None) -> None:
    """--keep must name a new or empty folder: the runs' folders and the JAX compilation cache
    left by an earlier benchmark would make the first JAX run a warm one and clash with the
    output folders."""
    if path is not None and path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise SystemExit(f"--keep {path}: give a new or empty folder")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    check_torch_python(args.torch_python)
    check_keep_folder(args.keep)
    print(machine_line(), flush=True)
    # A kept folder is the caller's; otherwise a temporary one goes when the runs end.
    keep_or_temporary = (
        nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="hsc-bench-")
    )
    with keep_or_temporary as folder:
        work = Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        parquet, npz = work / "subset.parquet", work / "subset.npz"
        taken = write_subset(args.data, parquet, args.faces, args.seed)
        used = write_npz(parquet, npz)
        print(f"subset of {args.data}: rows taken {taken}; used after the leak rule {used}")
        print(
            f"settings: size {args.size}, batch {args.batch_size}, epochs {args.epochs}, "
            f"balanced resampling, CPU, recompute {args.recompute}; PyTorch malloc "
            f"{args.torch_malloc}"
        )
        seconds, learned = run_interleaved(work, parquet, npz, args)
        ratios = report(seconds)
    print_figures(
        "benchmarks.training.vs_reference",
        {
            "args": vars(args),
            "rows_taken": taken,
            "rows_used": used,
            "seconds_per_run": seconds,
            "scores_per_run": learned,
            "torch_over_jax_best": ratios,
        },
    )


if __name__ == "__main__":
    main()
