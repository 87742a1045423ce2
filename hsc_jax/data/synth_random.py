"""Fast scalar random draws for the synthetic heads (`synth_faces`, `synth_renders`)."""

from __future__ import annotations

import numpy as np


class Draws:
    """A random generator that serves scalar uniforms from pre-drawn blocks.

    A face takes dozens of scalar draws; one numpy call per scalar costs more than the drawing
    itself at these image sizes. Deterministic like the generator it wraps.
    """

    __slots__ = ("_rng", "_block", "_next")

    def __init__(self, rng: np.random.Generator, block_size: int = 128):
        self._rng = rng
        self._block = rng.random(block_size).tolist()
        self._next = 0

    def random(self) -> float:
        if self._next == len(self._block):
            self._block = self._rng.random(len(self._block)).tolist()
            self._next = 0
        self._next += 1
        return self._block[self._next - 1]

    def uniform(
        self, low: float = 0.0, high: float = 1.0, size: int | tuple[int, ...] | None = None
    ):
        if size is not None:
            return low + (high - low) * self._rng.random(size)
        return low + (high - low) * self.random()

    def integers(self, low: int, high: int | None = None) -> int:
        if high is None:
            low, high = 0, low
        return min(high - 1, low + int((high - low) * self.random()))

    def choice(self, options):
        return options[self.integers(len(options))]
