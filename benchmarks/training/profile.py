"""Where the train step's time goes: XLA's CPU thunks timed by the JAX profiler.

    .venv/bin/python -m benchmarks.training.profile --size s --batch 256 --steps 5 --top 15

Builds the real step (`models.real_train_step`, as `hsc-jax train` runs it), traces a few steps
with `jax.profiler` (perfetto trace), sums each thunk's time per step, and names what each
fusion computes from the compiled HLO (its opcodes and output shape). Prints a markdown table
of the top thunks with ms per step and share of the step; docs/models-benchmark.md keeps it.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import jax

from benchmarks.support import machine_line, print_figures
from benchmarks.training.models import real_train_step
from hsc_jax.allocator import malloc_setting, restart_with_tuned_malloc
from hsc_jax.models import NAMED_SIZES
from hsc_jax.train.mesh import data_parallel
from hsc_jax.xla_schedule import order_cpu_programs

_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+) (\w[\w-]*)\(")
_CALLS = re.compile(r"calls=%?([\w.\-]+)")


def fusion_contents(hlo: str) -> dict[str, str]:
    """Thunk name -> 'opcodes (shape)' from the compiled HLO text."""
    computations: dict[str, list[str]] = {}
    current = None
    for line in hlo.splitlines():
        header = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header:
            current = header.group(1)
            computations[current] = []
        elif current and (m := _INSTRUCTION.match(line)):
            computations[current].append(m.group(3))
    described = {}
    for line in hlo.splitlines():
        m = _INSTRUCTION.match(line)
        if not m:
            continue
        name, shape, opcode = m.groups()
        inner = ""
        if (called := _CALLS.search(line)) and called.group(1) in computations:
            counts = collections.Counter(
                op for op in computations[called.group(1)] if op not in ("parameter", "constant")
            )
            inner = ": " + ", ".join(
                f"{op}x{n}" if n > 1 else op for op, n in counts.most_common(6)
            )
        described[name] = f"{opcode}{inner} -> {shape}"
    return described


def thunk_times(trace_dir: Path, names: set[str]) -> collections.Counter:
    """Total microseconds per thunk name over the traced steps."""
    path = sorted(trace_dir.rglob("*.json.gz"))[-1]
    with gzip.open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    totals: collections.Counter = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event.get("name") in names:
            totals[event["name"]] += event.get("dur", 0)
    return totals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="s", choices=sorted(NAMED_SIZES))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--depthwise", default="auto", choices=("auto", "slices", "grouped"))
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    order_cpu_programs()  # as `hsc-jax train` runs
    restart_with_tuned_malloc()
    parallel = data_parallel("cpu")
    _, _, train_once, _, _ = real_train_step(
        NAMED_SIZES[args.size], args.batch, args.depthwise, (48, 48), parallel
    )
    hlo = train_once.lowered().compile().as_text()
    described = fusion_contents(hlo)
    train_once()
    train_once()
    with tempfile.TemporaryDirectory() as folder:
        jax.profiler.start_trace(folder, create_perfetto_trace=True)
        start = time.perf_counter()
        for _ in range(args.steps):
            train_once()
        wall = (time.perf_counter() - start) / args.steps
        jax.profiler.stop_trace()
        totals = thunk_times(Path(folder), set(described))
    step_ms = 1000 * wall
    thunk_ms = sum(totals.values()) / 1000 / args.steps
    print(
        f"{machine_line()}; size {args.size.upper()}, batch {args.batch}, "
        f"depthwise {args.depthwise}, malloc {malloc_setting()}; {step_ms:.0f} ms per step traced "
        f"({args.batch / wall:.1f} img/s under the profiler); thunks account for "
        f"{thunk_ms:.0f} ms; {len(totals)} thunks"
    )
    print("| # | thunk | ms/step | % of step | what it computes |")
    print("|---:|---|---:|---:|---|")
    top = []
    for rank, (name, micros) in enumerate(totals.most_common(args.top), 1):
        ms = micros / 1000 / args.steps
        print(f"| {rank} | {name} | {ms:.1f} | {100 * ms / step_ms:.1f} | {described[name]} |")
        top.append(
            {
                "rank": rank,
                "thunk": name,
                "ms_per_step": ms,
                "percent_of_step": 100 * ms / step_ms,
                "computes": described[name],
            }
        )
    kinds: collections.Counter = collections.Counter()
    for name, micros in totals.items():
        kinds[described[name].split(":")[0].split(" ")[0]] += micros
    print(
        "\nBy thunk kind: "
        + ", ".join(
            f"{kind} {100 * micros / 1000 / args.steps / step_ms:.0f} %"
            for kind, micros in kinds.most_common()
        )
    )
    print_figures(
        "benchmarks.training.profile",
        {
            "args": vars(args),
            "malloc": malloc_setting(),
            "step_ms": step_ms,
            "images_per_s_under_profiler": args.batch / wall,
            "thunk_ms": thunk_ms,
            "thunks": len(totals),
            "top_thunks": top,
            "percent_of_step_by_kind": {
                kind: 100 * micros / 1000 / args.steps / step_ms
                for kind, micros in kinds.most_common()
            },
        },
    )


if __name__ == "__main__":
    main()
