"""Train-step and eval throughput of the HSC models on this machine (48x48 images).

    .venv/bin/python scripts/bench_models.py                       # every named size + backbones
    .venv/bin/python scripts/bench_models.py --sizes s --backbones "" --steps 10 --repeats 3

A train step is forward + backward + AdamW (nnx.Optimizer, wrt=nnx.Param) on a batch of
random images, jitted with the state donated; eval is the jitted forward in eval mode.
FLOPs per image come from XLA's cost analysis of the plain-convolution ("grouped") forward.
Results and the machine they ran on are recorded in docs/models-benchmark.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from hsc_jax.models import NAMED_SIZES, ModelConfig, count_parameters, create_model, set_depthwise

BACKBONES = {
    # S-like settings (C = 32, N = 4), each with its "auto" head.
    name: ModelConfig(base_channels=32, num_blocks=4, arch_variant=name)
    for name in ("baseline", "inverted_se", "convnext")
}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loss_fn(model, x, y):
    logits = model(x)
    return optax.sigmoid_binary_cross_entropy(logits, y).mean()


def make_train_step(graphdef):
    def train_step(state, x, y):
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss, nnx.state((model, optimizer))

    return jax.jit(train_step, donate_argnums=0)


def timed(fn, steps: int, warmup: int) -> float:
    """Seconds per call after `warmup` calls (fn must block on its result)."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


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


def bench(config: ModelConfig, batch: int, steps: int, warmup: int, depthwise: str, image_size):
    model = create_model(config, image_size=image_size, seed=0, depthwise=depthwise)
    params = count_parameters(model)
    key = jax.random.key(0)
    x = jax.random.uniform(key, (batch, *image_size, 3))
    y = (jax.random.uniform(jax.random.fold_in(key, 1), (batch,)) > 0.5).astype(jnp.float32)

    model.train()
    optimizer = nnx.Optimizer(model, optax.adamw(1e-4, weight_decay=1e-4), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    step = make_train_step(graphdef)
    t0 = time.perf_counter()
    loss, state = step(state, x, y)
    loss.block_until_ready()
    compile_s = time.perf_counter() - t0
    holder = [state]

    def train_once():
        loss, holder[0] = step(holder[0], x, y)
        loss.block_until_ready()

    train_s = timed(train_once, steps, warmup)

    model, _ = nnx.merge(graphdef, holder[0])
    model.eval()
    eval_graph, eval_state = nnx.split(model)
    forward = jax.jit(lambda s, x: nnx.merge(eval_graph, s)(x))
    eval_s = timed(lambda: forward(eval_state, x).block_until_ready(), steps, warmup)
    return params, batch / train_s, batch / eval_s, compile_s, model


def main() -> None:
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
    args = parser.parse_args()
    image_size = (48, 48)

    runs = [(f"size {n.upper()}", NAMED_SIZES[n]) for n in args.sizes.split(",") if n]
    runs += [(f"{b} (S-like)", BACKBONES[b]) for b in args.backbones.split(",") if b]
    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; backend {jax.default_backend()}; "
        f"jax {jax.__version__}; batch {args.batch}; {image_size[0]}x{image_size[1]}; "
        f"depthwise {args.depthwise}; best of {args.repeats} x {args.steps} steps"
    )
    print("| model | params | train img/s | eval img/s | fwd MFLOPs/img | train-step compile s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, config in runs:
        best_train, best_eval = 0.0, 0.0
        for _ in range(args.repeats):
            params, train, evaluate, compile_s, model = bench(
                config, args.batch, args.steps, args.warmup, args.depthwise, image_size
            )
            best_train, best_eval = max(best_train, train), max(best_eval, evaluate)
        fwd = float("nan") if args.no_flops else flops_per_image(model, args.batch, image_size)
        print(
            f"| {name} | {params:,} | {best_train:.1f} | {best_eval:.1f} | {fwd / 1e6:.1f} | "
            f"{compile_s:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
