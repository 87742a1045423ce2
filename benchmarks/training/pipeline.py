"""Training throughput: the input pipeline alone, the jitted step alone, and both together.

    python -m benchmarks.training.pipeline --data_root ../shared/data/ferplus/ferplus.parquet \\
        --size s

Prints images/s for each and the share of end-to-end time spent waiting for data, as JSON.
On a 2-core CPU the step dominates and the data wait stays near 0 %.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence

import jax
import numpy as np

from benchmarks.support import machine_facts, print_figures, train_step_seconds
from hsc_jax.allocator import restart_with_tuned_malloc
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.pipeline import epoch_batches, plan_epoch
from hsc_jax.train.trainer import Trainer
from hsc_jax.xla_schedule import order_cpu_programs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--size", default="s")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="Timed steps per measurement.")
    parser.add_argument("--image_size", default="48")
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--use_amp", action="store_true")
    parser.add_argument("--device", default="auto")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    order_cpu_programs()  # as `hsc-jax train` runs
    restart_with_tuned_malloc()
    with tempfile.TemporaryDirectory() as output_dir:
        config = TrainConfig(
            data_root=args.data_root,
            output_dir=output_dir,
            size=args.size,
            batch_size=args.batch_size,
            image_size=args.image_size,
            num_workers=args.num_workers,
            use_amp=args.use_amp,
            device=args.device,
            max_steps_per_epoch=args.steps,
        )
        config.validate()
        trainer = Trainer(config)
        started = time.perf_counter()
        trainer.setup(None)
        setup_s = time.perf_counter() - started
        split = trainer.train_split
        rows = trainer.parallel.local_slice(config.batch_size)
        images_per_run = args.steps * config.batch_size

        # 1. Data alone: gather + CLAHE on the host threads.
        plan = plan_epoch(split.labels, "balanced", 0, 1, config.batch_size, args.steps)
        started = time.perf_counter()
        for _ in epoch_batches(split.images, split.labels, plan, rows, 0, 0.01, args.num_workers):
            pass
        data_s = time.perf_counter() - started

        # 2. Step alone on one device-resident batch (setup compiled it; the first call also
        #    faults in the step's memory, so it is timed apart).
        images = trainer.parallel.put_batch(split.images[plan.batches[0, rows]])
        labels = trainer.parallel.put_batch(split.labels[plan.batches[0, rows]])
        key = jax.random.key(0)
        started = time.perf_counter()
        trainer.state, m = trainer.train_step(trainer.state, images, labels, key, 1e-4, 1.0)
        jax.block_until_ready(m["loss"])
        first_step_s = time.perf_counter() - started
        step_s = train_step_seconds(trainer, images, labels, key, args.steps)

        # 3. End to end: the trainer's own epoch loop (pipeline, transfer, step, metrics).
        plan = plan_epoch(split.labels, "balanced", 0, 2, config.batch_size, args.steps)
        timing = trainer.train_epoch(plan)["timing"]

        report = {
            **machine_facts(),
            "size": args.size,
            "batch_size": config.batch_size,
            "devices": f"{trainer.parallel.device_count} {trainer.parallel.backend}",
            "parameters": trainer.parameter_count,
            "setup_s (load + decode + model + compile)": round(setup_s, 2),
            "compile_s": trainer.compile_s,
            "first_step_s": round(first_step_s, 2),
            "data_images_per_s": round(images_per_run / data_s, 1),
            "step_images_per_s": round(images_per_run / step_s, 1),
            "step_ms": round(1000 * step_s / args.steps, 1),
            "end_to_end_images_per_s": round(timing["images_per_s"], 1),
            "data_wait_share": round(timing["data_wait_s"] / timing["epoch_time_s"], 4),
            # A balanced epoch tiles every class up to the largest one.
            "estimated_balanced_epoch_s": round(
                len(np.bincount(split.labels))
                * int(np.bincount(split.labels).max())
                / timing["images_per_s"],
                1,
            ),
        }
        print(json.dumps(report, indent=2))
    print_figures("benchmarks.training.pipeline", {"args": vars(args), **report})


if __name__ == "__main__":
    main()
