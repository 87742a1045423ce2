"""Throughput of the synthetic head renderer on one core, PNG encoding included.

Run: `python -m benchmarks.training.synth [--count 1000] [--repeats 7] [--image-size 64]`
(about 5 s). Target: at least 2,000 images/s. Like timeit, it reports the best of several
repeats (what the code costs when it has the core to itself) next to the median (what a busy
machine gave it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import cv2

from benchmarks.support import machine_line, print_figures
from hsc_jax.data.synth import render_synthetic_dataset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="images per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    # One core: OpenCV would otherwise spread blurs and resizes over every CPU.
    cv2.setNumThreads(1)
    render_synthetic_dataset(50, args.seed, image_size=args.image_size)  # warm caches
    rates, cpu_rates = [], []
    for repeat in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        frame = render_synthetic_dataset(args.count, args.seed + repeat, image_size=args.image_size)
        rates.append(len(frame) / (time.perf_counter() - start))
        # CPU time leaves out the turns other processes took on a shared core.
        cpu_rates.append(len(frame) / (time.process_time() - start_cpu))
    mean_png = frame["image_bytes"].map(len).mean()
    print(
        f"{machine_line()}; {args.repeats} x {args.count} images of "
        f"{args.image_size}x{args.image_size}: "
        f"wall clock best {max(rates):,.0f} images/s, median {statistics.median(rates):,.0f}; "
        f"CPU time best {max(cpu_rates):,.0f} images/s (mean PNG {mean_png:,.0f} bytes)"
    )
    print_figures(
        "benchmarks.training.synth",
        {
            "args": vars(args),
            "wall_best_images_per_s": max(rates),
            "wall_median_images_per_s": statistics.median(rates),
            "cpu_best_images_per_s": max(cpu_rates),
            "mean_png_bytes": mean_png,
        },
    )


if __name__ == "__main__":
    main()
