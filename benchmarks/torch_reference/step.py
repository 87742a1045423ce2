"""Benchmark-only PyTorch re-implementation of the HSC "S" network (inverted_se + avgmax_mlp).

Runs in its own environment (never imported by hsc_jax), to compare train-step speed with JAX:

    python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python -m benchmarks.torch_reference.step --batch 256 --steps 10

Prints img/s for a train step (forward, backward, AdamW) and eval, NCHW and channels_last.
`--profile N` instead prints the top N operators of the channels_last train step by self CPU
time (torch.profiler), the counterpart of benchmarks/training/profile.py.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
from torch import nn

from benchmarks.support import machine_line, print_figures, seconds_per_call
from benchmarks.torch_reference.model import Net


def train_step_fn(model, x, y):
    """One train step (forward, backward, AdamW) on the fixed batch, as a closure."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def bench(model, x, y, steps: int, warmup: int) -> tuple[float, float]:
    """(train, eval) images/s over `steps` calls after `warmup` untimed ones."""
    model.train()
    train = x.shape[0] / seconds_per_call(train_step_fn(model, x, y), steps, warmup)
    model.eval()
    with torch.no_grad():
        evaluate = x.shape[0] / seconds_per_call(lambda: model(x), steps, warmup)
    return train, evaluate


def profile(model, x, y, steps: int, top: int) -> dict:
    """Top operators of the train step by self CPU time, as a markdown table; returns its
    figures."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model.train()
    step = train_step_fn(model, x, y)
    for _ in range(3):
        step()
    start = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    step_ms = 1000 * (time.perf_counter() - start) / steps
    print(f"channels_last train step: {step_ms:.0f} ms under the profiler, batch {x.shape[0]}")
    print("| # | operator | ms/step | % of step | calls/step |")
    print("|---:|---|---:|---:|---:|")
    ranked = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    operators = []
    for rank, event in enumerate(ranked, 1):
        ms = event.self_cpu_time_total / 1000 / steps
        print(
            f"| {rank} | {event.key} | {ms:.1f} | {100 * ms / step_ms:.1f} | "
            f"{event.count // steps} |"
        )
        operators.append(
            {
                "rank": rank,
                "operator": event.key,
                "ms_per_step": ms,
                "percent_of_step": 100 * ms / step_ms,
                "calls_per_step": event.count // steps,
            }
        )
    return {"step_ms_under_profiler": step_ms, "top_operators": operators}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--num_blocks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="print the top N operators")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    torch.manual_seed(0)
    print(f"{machine_line()}; torch {torch.__version__}, threads {torch.get_num_threads()}")
    x = torch.rand(args.batch, 3, 48, 48)
    y = (torch.rand(args.batch) > 0.5).float()
    setup = {"args": vars(args), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if args.profile:
        model = Net(num_blocks=args.num_blocks).to(memory_format=torch.channels_last)
        xs = x.contiguous(memory_format=torch.channels_last)
        figures = profile(model, xs, y, args.steps, args.profile)
        print_figures("benchmarks.torch_reference.step", {**setup, **figures})
        return
    runs = []
    for layout in ("nchw", "channels_last"):
        for _ in range(args.repeats):
            model = Net(num_blocks=args.num_blocks)
            xs = x
            if layout == "channels_last":
                model = model.to(memory_format=torch.channels_last)
                xs = x.contiguous(memory_format=torch.channels_last)
            params = sum(p.numel() for p in model.parameters())
            train, evaluate = bench(model, xs, y, args.steps, args.warmup)
            print(
                f"{layout:14s} params {params:8d}  train {train:7.1f} img/s  eval {evaluate:8.1f} img/s"
            )
            runs.append(
                {
                    "layout": layout,
                    "params": params,
                    "train_images_per_s": train,
                    "eval_images_per_s": evaluate,
                }
            )
    print_figures("benchmarks.torch_reference.step", {**setup, "runs": runs})


if __name__ == "__main__":
    main()
