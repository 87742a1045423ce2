"""What the compiled train step asks of memory: temporaries, arguments and outputs per size and
batch, and the largest buffers it writes.

    .venv/bin/python -m benchmarks.training.memory                        # P, S, L at 64 and 256
    .venv/bin/python -m benchmarks.training.memory --sizes s --batches 256 --top 15
    .venv/bin/python -m benchmarks.training.memory --cpu-order concurrency   # XLA's default

Builds the step `hsc-jax train` runs (`models.real_train_step`), compiles it without running it
and reads XLA's own accounting (`Compiled.memory_analysis()`): the temporaries are the scratch
memory every step takes from malloc and gives back (what huge pages made cheaper,
`hsc_jax/allocator.py`), under the order XLA gives the program (`--cpu-order`,
`hsc_jax/xla_schedule.py`; `hsc-jax train` asks for "memory"). The largest buffers are the
biggest values the optimised program writes (`Compiled.as_text()`, each instruction's output
shape), with what each computes.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence

import jax

from benchmarks.support import machine_line, print_figures
from benchmarks.training.models import TRAIN_DEFAULTS, add_recompute_option, real_train_step
from benchmarks.training.profile import fusion_contents
from hsc_jax.models import NAMED_SIZES
from hsc_jax.train.mesh import data_parallel
from hsc_jax.train.step import resolve_recompute
from hsc_jax.xla_schedule import ORDER_FLAGS, cpu_program_order, order_cpu_programs

MB = 1e6
_DTYPE_BYTES = {"f32": 4, "s32": 4, "u32": 4, "f16": 2, "bf16": 2, "u8": 1, "s8": 1, "pred": 1}
_ARRAY = re.compile(r"\b(f32|s32|u32|f16|bf16|u8|s8|pred)\[([\d,]*)\]")
_ENTRY_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (.+?) (\w[\w-]*)\(")


def shape_bytes(shape: str) -> int:
    """Bytes of an HLO shape string; a tuple's are its parts' added up."""
    return sum(
        _DTYPE_BYTES[dtype] * math.prod(int(d) for d in dims.split(",") if d)
        for dtype, dims in _ARRAY.findall(shape)
    )


def largest_buffers(hlo: str, top: int) -> list[dict]:
    """The `top` largest outputs of the entry computation's instructions (fusions, dots,
    copies...), biggest first, each with what it computes."""
    described = fusion_contents(hlo)
    entry = hlo[hlo.index("ENTRY ") :]
    found = []
    for line in entry.splitlines()[1:]:
        if line.startswith("}"):
            break
        m = _ENTRY_INSTRUCTION.match(line)
        if not m or m.group(3) in (
            "parameter",
            "constant",
            "get-tuple-element",
            "tuple",
            "bitcast",
        ):
            continue
        name, shape, _ = m.groups()
        computes = described.get(name, f"{m.group(3)} -> {shape}")
        found.append({"name": name, "mb": shape_bytes(shape) / MB, "computes": computes})
    return sorted(found, key=lambda b: -b["mb"])[:top]


def step_memory(
    size: str, batch: int, depthwise: str, top: int, recompute: str = TRAIN_DEFAULTS.recompute
) -> dict:
    parallel = data_parallel("cpu")
    _, params, train_once, _, _ = real_train_step(
        NAMED_SIZES[size], batch, depthwise, (48, 48), parallel, recompute
    )
    compiled = train_once.lowered().compile()
    analysis = compiled.memory_analysis()
    return {
        "size": size,
        "batch": batch,
        "params": params,
        "temp_mb": analysis.temp_size_in_bytes / MB,
        "argument_mb": analysis.argument_size_in_bytes / MB,
        "output_mb": analysis.output_size_in_bytes / MB,
        "largest": largest_buffers(compiled.as_text(), top),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["p", "s", "l"], choices=sorted(NAMED_SIZES))
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--top", type=int, default=8, help="largest buffers listed per step")
    parser.add_argument("--depthwise", default="auto", choices=("auto", "slices", "grouped"))
    parser.add_argument(
        "--cpu-order",
        default="memory",
        choices=sorted(ORDER_FLAGS),
        help="how XLA orders CPU programs (hsc-jax train: memory)",
    )
    add_recompute_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    order_cpu_programs(args.cpu_order)
    print(
        f"{machine_line()}; jax {jax.__version__}; depthwise {args.depthwise}; 48x48; "
        f"XLA CPU order {cpu_program_order()}; recompute "
        f"{resolve_recompute(args.recompute, 'cpu')}"
    )
    rows = [
        step_memory(size, batch, args.depthwise, args.top, args.recompute)
        for size in args.sizes
        for batch in args.batches
    ]
    print("\n| size | batch | parameters | temporaries MB | arguments MB | outputs MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size'].upper()} | {r['batch']} | {r['params']:,} | {r['temp_mb']:,.0f} "
            f"| {r['argument_mb']:,.1f} | {r['output_mb']:,.1f} |"
        )
    for r in rows:
        print(f"\nLargest buffers, {r['size'].upper()} at batch {r['batch']}:\n")
        print("| MB | buffer | what it computes |")
        print("|---:|---|---|")
        for b in r["largest"]:
            print(f"| {b['mb']:,.1f} | {b['name']} | {b['computes']} |")
    print_figures("benchmarks.training.memory", {"args": vars(args), "steps": rows})


if __name__ == "__main__":
    main()
