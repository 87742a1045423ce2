"""The GPU path in one run: S training speed and the shipped S model's onnxruntime latency.

    benchmarks/inference/gpu.sh                  # sets up the GPU environment when there is a GPU
    python -m benchmarks.inference.gpu --steps 20 --output gpu.json    # whatever this machine has

It prints the machine, then JSON lines and one summary (ending with it on one line):

* the S train step alone with its batch already on the device, in float32 and in bfloat16
  (`--use_amp`): images/s over --steps steps after the compiling one;
* the whole training loop (input pipeline, transfer, step) with `--data_cache ram` and with
  `stream`, on a synthetic sharded set: images/s after the first step;
* the shipped S model in onnxruntime on the CPU, CUDA and TensorRT execution providers: median
  latency at batch 1 and images/s at batch 64.

What this machine cannot run (bfloat16 needs an accelerator; CUDA and TensorRT need a GPU and
onnxruntime-gpu) is reported as skipped with the reason, so on a CPU-only machine the script
still runs, and is tested that way.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.support import (
    load_average_1m,
    machine_facts,
    machine_line,
    median_ms,
    print_figures,
    print_report,
    train_step_seconds,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="s")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--image_size", default="48")
    parser.add_argument("--steps", type=int, default=20, help="Timed training steps.")
    parser.add_argument("--count", type=int, default=12000, help="Synthetic images to train on.")
    parser.add_argument("--data_root", default=None, help="Train on this set instead.")
    parser.add_argument("--runs", type=int, default=200, help="onnxruntime runs per latency.")
    parser.add_argument("--model", default="s", help="Shipped model name or ONNX file.")
    parser.add_argument("--num_workers", type=int, default=4)
    parser.add_argument("--output", default=None, help="Write the summary JSON here too.")
    return parser


def machine() -> dict[str, Any]:
    import jax

    return {
        **machine_facts(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "load_average_1m": load_average_1m(),
    }


def emit(results: list[dict], **row: Any) -> None:
    results.append(row)
    print(json.dumps(row), flush=True)


# --- training ----------------------------------------------------------------------------------


def trainer_for(args: argparse.Namespace, data_root: str, workdir: Path, **settings: Any) -> Any:
    from hsc_jax.train.config import TrainConfig
    from hsc_jax.train.trainer import Trainer

    config = TrainConfig(
        data_root=data_root,
        output_dir=tempfile.mkdtemp(dir=workdir),
        size=args.size,
        batch_size=args.batch_size,
        image_size=args.image_size,
        num_workers=args.num_workers,
        train_ratio=0.9,
        val_ratio=0.1,
        test_ratio=0.0,
        stream_cache_dir=str(workdir / "index"),
        max_steps_per_epoch=args.steps + 1,
        **settings,
    )
    config.validate()
    trainer = Trainer(config)
    trainer.setup(None)
    return trainer


def step_on_device(args: argparse.Namespace, trainer: Any) -> float:
    """Images/s of the train step alone on a batch that already lives on the device."""
    import jax

    split, rows = trainer.train_split, trainer.parallel.local_slice(args.batch_size)
    order = np.arange(args.batch_size) % len(split)
    images = trainer.parallel.put_batch(split.images[order[rows]])
    labels = trainer.parallel.put_batch(split.labels[order[rows]])
    key = jax.random.key(0)
    trainer.state, m = trainer.train_step(trainer.state, images, labels, key, 1e-4, 1.0)
    jax.block_until_ready(m["loss"])  # compiles
    seconds = train_step_seconds(trainer, images, labels, key, args.steps)
    return args.steps * args.batch_size / seconds


def end_to_end(args: argparse.Namespace, trainer: Any) -> dict[str, float]:
    """Images/s of the trainer's own loop, after its first (compiling) step."""
    from hsc_jax.train.pipeline import plan_epoch

    plan = plan_epoch(trainer.train_split.labels, "none", 0, 1, args.batch_size, args.steps + 1)
    timing = trainer.train_epoch(plan)["timing"]
    steady = timing["epoch_time_s"] - timing["first_step_s"]
    return {
        "images_per_s": round(args.steps * args.batch_size / steady, 1),
        "data_wait_share": round(timing["data_wait_s"] / timing["epoch_time_s"], 3),
    }


def bench_training(args: argparse.Namespace, results: list[dict], workdir: Path) -> None:
    import jax

    data_root = args.data_root
    if data_root is None:
        from hsc_jax.data.synth import write_synthetic_shards

        data_root = str(workdir / "synth")
        write_synthetic_shards(Path(data_root), args.count, seed=0, shards=4)
    accelerator = jax.default_backend() != "cpu"
    for dtype, amp in (("float32", False), ("bfloat16", True)):
        name = f"train step on device, {dtype}"
        if amp and not accelerator:
            emit(results, what=name, skipped="bfloat16 compute needs an accelerator")
            continue
        trainer = trainer_for(args, data_root, workdir, use_amp=amp, data_cache="ram")
        rate = step_on_device(args, trainer)
        emit(results, what=name, images_per_s=round(rate, 1), size=args.size)
    for cache in ("ram", "stream"):
        trainer = trainer_for(args, data_root, workdir, data_cache=cache)
        emit(results, what=f"training loop, --data_cache {cache}", **end_to_end(args, trainer))


# --- onnxruntime -------------------------------------------------------------------------------


def bench_onnxruntime(args: argparse.Namespace, results: list[dict], workdir: Path) -> None:
    import onnxruntime as ort

    from hsc_infer.providers import create_session
    from hsc_infer.zoo import resolve_model

    path = resolve_model(args.model)
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from the nvidia-* wheels that jax[cuda12] installs
    wanted = {
        "cpu": "CPUExecutionProvider",
        "cuda": "CUDAExecutionProvider",
        "tensorrt": "TensorrtExecutionProvider",
    }
    for provider, name in wanted.items():
        what = f"onnxruntime {provider}, {path.name}"
        if name not in available:
            emit(results, what=what, skipped=f"{name} is not in this onnxruntime build")
            continue
        session = create_session(path, provider, trt_cache_dir=workdir)
        if session.get_providers()[0] != name:
            emit(results, what=what, skipped=f"{name} failed to start (missing libraries?)")
            continue
        meta = session.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in meta.shape]
        row: dict[str, Any] = {"what": what}
        for batch in (1, 64):
            x = np.random.default_rng(0).random((batch, *shape[1:]), dtype=np.float32)
            feed = {meta.name: x}
            ms = median_ms(lambda s=session, f=feed: s.run(None, f), args.runs)
            row[f"batch{batch}_ms"] = round(ms, 3)
            if batch > 1:
                row[f"batch{batch}_images_per_s"] = round(1000 * batch / ms, 1)
        emit(results, **row)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line(), flush=True)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as folder:
        workdir = Path(folder)
        bench_training(args, results, workdir)
        bench_onnxruntime(args, results, workdir)
    summary = {"machine": machine(), "batch_size": args.batch_size, "results": results}
    print_report(summary, args.output)
    print_figures("benchmarks.inference.gpu", {"args": vars(args), **summary})


if __name__ == "__main__":
    main()
