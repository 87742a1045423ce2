"""Train-step and eval throughput of the HSC models on this machine (48x48 images).

    .venv/bin/python -m benchmarks.training.models              # every named size + backbones
    .venv/bin/python -m benchmarks.training.models --sizes s --backbones "" --steps 10 --repeats 3

The train step is the one `hsc-jax train` runs, built the way `Trainer.setup` builds it:
`make_train_step` from hsc_jax/train/step.py over (model, optimiser) from `make_optimizer`
(AdamW with the rate injected per call), with the contract's input scaling and a data-parallel
mesh. Each call takes a batch of random uint8 images, augments it on the device, and computes
the class-weighted BCE (pos_weight = negatives / positives of the batch), as in training. Eval
is `make_eval_step` (uint8 -> contract scaling -> forward in eval mode), as in validation.
FLOPs per image come from XLA's cost analysis of the plain-convolution ("grouped") forward.
Results and the machine they ran on are recorded in docs/models-benchmark.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks.support import (
    machine_line,
    print_figures,
    seconds_and_kernel_per_call,
    seconds_per_call,
)
from hsc_infer.contract import ModelContract
from hsc_jax.allocator import malloc_setting, restart_with_tuned_malloc
from hsc_jax.models import NAMED_SIZES, ModelConfig, count_parameters, create_model, set_depthwise
from hsc_jax.train.config import RECOMPUTE, TrainConfig
from hsc_jax.train.mesh import DataParallel, data_parallel
from hsc_jax.train.pipeline import positive_weight
from hsc_jax.train.step import (
    InputScaling,
    make_eval_step,
    make_optimizer,
    make_train_step,
    resolve_recompute,
)
from hsc_jax.xla_schedule import ORDER_FLAGS, cpu_program_order, order_cpu_programs

# The trainer's defaults for the optimiser (`hsc-jax train` without --lr / --weight_decay).
TRAIN_DEFAULTS = TrainConfig(data_root="")

BACKBONES = {
    # S-like settings (C = 32, N = 4), each with its "auto" head.
    name: ModelConfig(base_channels=32, num_blocks=4, arch_variant=name)
    for name in ("baseline", "inverted_se", "convnext")
}


def flops_per_image(model, batch: int, image_size) -> float:
    """Eval-forward FLOPs per image from XLA's cost analysis of the plain-convolution form.

    (A train step is about 3x this: forward, input gradients and weight gradients.)
    """
    set_depthwise(model, "grouped")
    model.eval()
    graphdef, state = nnx.split(model)
    x = jnp.zeros((batch, *image_size, 3))
    compiled = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)).lower(state, x).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", float("nan"))) / batch


def real_train_step(
    config: ModelConfig,
    batch: int,
    depthwise: str,
    image_size,
    parallel: DataParallel,
    recompute: str = TRAIN_DEFAULTS.recompute,
):
    """(model, parameter count, one-step closure, state holder, (graphdef, images, scaling) for
    inspecting the step): the step `hsc-jax train` runs, as Trainer.setup builds it, on one fixed
    batch of random uint8 images."""
    model = create_model(config, image_size=image_size, seed=0, depthwise=depthwise)
    params = count_parameters(model)
    rng = np.random.default_rng(0)
    images_host = rng.integers(0, 256, (batch, *image_size, 3), dtype=np.uint8)
    labels_host = rng.integers(0, 2, (batch,), dtype=np.int32)
    images = parallel.put_batch(images_host)
    labels = parallel.put_batch(labels_host)
    pos_weight = positive_weight(labels_host)
    lr = TRAIN_DEFAULTS.lr
    key = jax.random.key(0)

    # As Trainer.setup: optimiser, split in train mode, state replicated over the mesh.
    optimizer = make_optimizer(model, TRAIN_DEFAULTS.lr, TRAIN_DEFAULTS.weight_decay)
    model.train()
    graphdef, state = nnx.split((model, optimizer))
    model.eval()
    scaling = InputScaling.from_contract(ModelContract(input_size=image_size))
    train_step = make_train_step(graphdef, scaling, parallel, recompute=recompute)
    holder = {"state": parallel.put_replicated(state), "step": 0}

    def train_once() -> None:
        step = holder["step"]
        holder["state"], m = train_step(
            holder["state"], images, labels, jax.random.fold_in(key, step), lr, pos_weight
        )
        holder["step"] = step + 1
        jax.block_until_ready(m["loss"])

    train_once.lowered = lambda: train_step.lower(  # for HLO inspection
        holder["state"], images, labels, key, lr, pos_weight
    )
    return model, params, train_once, holder, (graphdef, images, scaling)


def bench(
    config: ModelConfig,
    batch: int,
    steps: int,
    warmup: int,
    depthwise: str,
    image_size,
    parallel: DataParallel,
    recompute: str = TRAIN_DEFAULTS.recompute,
):
    model, params, train_once, holder, (graphdef, images, scaling) = real_train_step(
        config, batch, depthwise, image_size, parallel, recompute
    )
    t0 = time.perf_counter()
    train_once()
    compile_s = time.perf_counter() - t0
    train_s, faults, kernel_s = seconds_and_kernel_per_call(train_once, steps, warmup)

    # The donated state left the first model's arrays behind: carry on with the trained one.
    model = nnx.merge(graphdef, holder["state"])[0]
    model.eval()
    eval_step = make_eval_step(nnx.graphdef(model), scaling, parallel)
    model_state = nnx.state(model)
    eval_s = seconds_per_call(
        lambda: eval_step(model_state, images).block_until_ready(), steps, warmup
    )
    return params, batch / train_s, batch / eval_s, compile_s, model, (faults, kernel_s)


def add_recompute_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recompute",
        default=TRAIN_DEFAULTS.recompute,
        choices=RECOMPUTE,
        help="activations recomputed in the backward pass (as train --recompute; default: "
        "hsc-jax train's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="p,n,t,s,c,m,l", help="named sizes, comma separated")
    parser.add_argument(
        "--backbones", default="baseline,inverted_se,convnext", help="S-like backbones ('' = none)"
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after compiling")
    parser.add_argument("--repeats", type=int, default=1, help="measurements per model (best kept)")
    parser.add_argument("--depthwise", default="auto", choices=("auto", "slices", "grouped"))
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOPs compile")
    parser.add_argument(
        "--cpu-order",
        default="memory",
        choices=sorted(ORDER_FLAGS),
        help="how XLA orders CPU programs (hsc_jax/xla_schedule.py; hsc-jax train: memory)",
    )
    add_recompute_option(parser)
    parser.add_argument(
        "--device", default="cpu", choices=("auto", "cpu", "gpu", "tpu"), help="as train --device"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    order_cpu_programs(args.cpu_order)
    restart_with_tuned_malloc()  # as `hsc-jax train` runs
    image_size = (48, 48)
    parallel = data_parallel(args.device)
    parallel.check_batch_size(args.batch)

    runs = [(f"size {n.upper()}", NAMED_SIZES[n]) for n in args.sizes.split(",") if n]
    runs += [(f"{b} (S-like)", BACKBONES[b]) for b in args.backbones.split(",") if b]
    print(
        f"{machine_line()}; {parallel.device_count} {parallel.backend} "
        f"device(s); train step: hsc_jax.train.step.make_train_step (augmented, weighted); "
        f"jax {jax.__version__}; batch {args.batch}; {image_size[0]}x{image_size[1]}; "
        f"depthwise {args.depthwise}; XLA CPU order {cpu_program_order()}; "
        f"recompute {resolve_recompute(args.recompute, parallel.backend)}; "
        f"malloc {malloc_setting()}; best of {args.repeats} x {args.steps} steps"
    )
    print(
        "| model | params | train img/s | eval img/s | fwd MFLOPs/img | train-step compile s "
        "| page faults / step | kernel s / step |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, config in runs:
        best_train, best_eval, kernel = 0.0, 0.0, (0.0, 0.0)
        for _ in range(args.repeats):
            params, train, evaluate, compile_s, model, faults_and_s = bench(
                config,
                args.batch,
                args.steps,
                args.warmup,
                args.depthwise,
                image_size,
                parallel,
                args.recompute,
            )
            if train > best_train:
                best_train, kernel = train, faults_and_s
            best_eval = max(best_eval, evaluate)
        fwd = float("nan") if args.no_flops else flops_per_image(model, args.batch, image_size)
        print(
            f"| {name} | {params:,} | {best_train:.1f} | {best_eval:.1f} | {fwd / 1e6:.1f} | "
            f"{compile_s:.1f} | {kernel[0]:,.0f} | {kernel[1]:.2f} |",
            flush=True,
        )
        rows.append(
            {
                "model": name,
                "params": params,
                "train_images_per_s": best_train,
                "eval_images_per_s": best_eval,
                "forward_mflops_per_image": fwd / 1e6,
                "train_step_compile_s": compile_s,
                "page_faults_per_step": kernel[0],
                "kernel_s_per_step": kernel[1],
            }
        )
    print_figures(
        "benchmarks.training.models",
        {
            "args": vars(args),
            "devices": f"{parallel.device_count} {parallel.backend}",
            "jax": jax.__version__,
            "image_size": list(image_size),
            "malloc": malloc_setting(),
            "xla_cpu_order": cpu_program_order(),
            "models": rows,
        },
    )


if __name__ == "__main__":
    main()
