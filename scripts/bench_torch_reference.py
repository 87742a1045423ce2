"""Benchmark-only PyTorch re-implementation of the HSC "S" network (inverted_se + avgmax_mlp).

Runs in its own environment (never imported by hsc_jax), to compare train-step speed with JAX:

    python3.11 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python scripts/bench_torch_reference.py --batch 256 --steps 10

Prints img/s for a train step (forward, backward, AdamW) and eval, NCHW and channels_last.
`--profile N` instead prints the top N operators of the channels_last train step by self CPU
time (torch.profiler), the counterpart of scripts/profile_step.py.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_support import machine_line, seconds_per_call
from torch import nn


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int):
        super().__init__()
        squeezed = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, squeezed, 1),
            nn.ReLU(),
            nn.Conv2d(squeezed, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.fc(x.mean((2, 3), keepdim=True))


class InvertedSE(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int = 4, reduction: int = 8):
        super().__init__()
        h = cin * expansion
        self.block = nn.Sequential(
            nn.Conv2d(cin, h, 1, bias=False), nn.BatchNorm2d(h), nn.SiLU(),
            nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.SiLU(),
            SqueezeExcite(h, reduction),
            nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.residual = stride == 1 and cin == cout
        self.act = nn.SiLU()

    def forward(self, x):
        y = self.block(x)
        return self.act(x + y if self.residual else y)


class Net(nn.Module):
    def __init__(self, channels: int = 32, num_blocks: int = 4, dropout: float = 0.3):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.SiLU(),
            nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.SiLU(),
        )  # fmt: skip
        stages = []
        for i in range(num_blocks):
            stride = 2 if i % 2 == 0 and i > 0 else 1
            out = c * 2 if stride == 2 else c
            stages.append(InvertedSE(c, out, stride))
            c = out
        self.features = nn.Sequential(*stages)
        hidden = max(16, c)
        self.head = nn.Sequential(
            nn.BatchNorm1d(2 * c), nn.Dropout(dropout), nn.Linear(2 * c, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, x):
        x = self.features(self.stem(x))
        x = torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)
        return self.head(x)[:, 0]


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


def profile(model, x, y, steps: int, top: int) -> None:
    """Top operators of the train step by self CPU time, as a markdown table."""
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
    for rank, event in enumerate(ranked, 1):
        ms = event.self_cpu_time_total / 1000 / steps
        print(
            f"| {rank} | {event.key} | {ms:.1f} | {100 * ms / step_ms:.1f} | "
            f"{event.count // steps} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--num_blocks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="print the top N operators")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{machine_line()}; torch {torch.__version__}, threads {torch.get_num_threads()}")
    x = torch.rand(args.batch, 3, 48, 48)
    y = (torch.rand(args.batch) > 0.5).float()
    if args.profile:
        model = Net(num_blocks=args.num_blocks).to(memory_format=torch.channels_last)
        xs = x.contiguous(memory_format=torch.channels_last)
        profile(model, xs, y, args.steps, args.profile)
        return
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


if __name__ == "__main__":
    main()
