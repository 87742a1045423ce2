"""Export the named sizes p..l (the reference zoo: inverted_se + avgmax_mlp, C = 32) to ONNX.

    python scripts/export_named_sizes.py --output_dir runs/named_onnx            # random weights
    python scripts/export_named_sizes.py --output_dir out --checkpoint s=runs/s/  # trained s

Random-init weights are enough for latency and size; every export is verified against JAX.
About 1-2 minutes for all seven on 2 cores. Then time them with
`python -m benchmarks.inference.latency runs/named_onnx/*.onnx`. The work is
`hsc_jax.export.export_named_size`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hsc_jax.export import export_named_size
from hsc_jax.models import NAMED_SIZES


def parse_checkpoints(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, _, path = item.partition("=")
        if name not in NAMED_SIZES or not path:
            raise SystemExit(f"--checkpoint wants NAME=PATH with NAME in {list(NAMED_SIZES)}")
        out[name] = Path(path)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--output_dir", type=Path, required=True)
    p.add_argument("--sizes", default="".join(NAMED_SIZES), help="subset, e.g. 'psl'")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--checkpoint", action="append", default=[], help="NAME=PATH (repeatable)")
    args = p.parse_args(argv)
    checkpoints = parse_checkpoints(args.checkpoint)
    unknown = [name for name in args.sizes if name not in NAMED_SIZES]
    if unknown:
        p.error(f"--sizes: unknown {unknown}; the sizes are {''.join(NAMED_SIZES)}")
    print(f"{'size':<5}{'nodes':>6}{'KB':>9}{'max diff':>10}{'s':>7}  ops")
    for name in args.sizes:
        start = time.perf_counter()
        report = export_named_size(name, args.output_dir, checkpoints.get(name), args.opset)
        ops = " ".join(f"{op}:{n}" for op, n in report.op_counts.items())
        print(
            f"{name:<5}{report.node_count:>6}{report.file_bytes / 1024:>9.1f}"
            f"{max(report.max_abs_diff.values()):>10.1e}{time.perf_counter() - start:>7.1f}  {ops}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
