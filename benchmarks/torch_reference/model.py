"""The HSC "S" network (inverted_se + avgmax_mlp) in PyTorch, built as the reference builds it:
the model of the reference-style trainer (`train.py`) and of the step benchmark (`step.py`).

Runs under an interpreter with torch and numpy only; never imported by hsc_jax.
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        squeezed = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, squeezed, 1),
            nn.ReLU(),
            nn.Conv2d(squeezed, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean((2, 3), keepdim=True))


class InvertedSE(nn.Module):
    def __init__(
        self, cin: int, cout: int, stride: int, expansion: int = 4, reduction: int = 8
    ) -> None:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return self.act(x + y if self.residual else y)


class Net(nn.Module):
    def __init__(self, channels: int = 32, num_blocks: int = 4, dropout: float = 0.3) -> None:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.stem(x))
        x = torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)
        return self.head(x)[:, 0]
