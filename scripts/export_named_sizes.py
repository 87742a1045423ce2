"""Export the named sizes p..l (the reference zoo: inverted_se + avgmax_mlp, C = 32) to ONNX.

    python scripts/export_named_sizes.py --output_dir runs/named_onnx            # random weights
    python scripts/export_named_sizes.py --output_dir out --checkpoint s=runs/s/  # trained s

Random-init weights are enough for latency and size; every export is verified against JAX.
About 1-2 minutes for all seven on 2 cores. Then time them with
`python scripts/bench_infer.py runs/named_onnx/*.onnx`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hsc_jax.export import export_onnx
from hsc_jax.models import NAMED_SIZES, create_model

IMAGE_SIZE = (48, 48)


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
    print(f"{'size':<5}{'nodes':>6}{'KB':>9}{'max diff':>10}{'s':>7}  ops")
    for name in args.sizes:
        start = time.perf_counter()
        contract = None
        if name in checkpoints:
            from hsc_jax.train.checkpoint import load_checkpoint

            loaded = load_checkpoint(checkpoints[name], depthwise="grouped")
            model, contract = loaded.model, loaded.contract
        else:
            model = create_model(NAMED_SIZES[name], image_size=IMAGE_SIZE, seed=0)
        output = args.output_dir / f"hsc_{name}_{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}.onnx"
        report = export_onnx(model, IMAGE_SIZE, contract, output, args.opset)
        ops = " ".join(f"{op}:{n}" for op, n in report.op_counts.items())
        print(
            f"{name:<5}{report.node_count:>6}{report.file_bytes / 1024:>9.1f}"
            f"{max(report.max_abs_diff.values()):>10.1e}{time.perf_counter() - start:>7.1f}  {ops}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
