"""Reduce-on-plateau learning rate, checked once per epoch (PyTorch `ReduceLROnPlateau` rules).

Kept on the host as a small JSON-safe state so a checkpoint can resume it exactly; the step reads
the current rate as an argument, so changing it never recompiles.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass
class ReduceOnPlateau:
    """Multiply the rate by `factor` after more than `patience` epochs without improvement.

    Improvement is relative (`threshold_mode="rel"`, mode "min"): a loss counts as better when
    it is below `best * (1 - threshold)`.
    """

    lr: float
    factor: float = 0.5
    patience: int = 2
    threshold: float = 1e-4
    best: float = math.inf
    bad_epochs: int = 0

    def step(self, loss: float) -> bool:
        """Record one epoch's monitored loss; return True when the rate was reduced."""
        if not math.isfinite(loss):
            # A NaN loss is never an improvement; counting it as bad matches PyTorch.
            self.bad_epochs += 1
        elif loss < self.best * (1.0 - self.threshold):
            self.best = loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.lr *= self.factor
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        state = dataclasses.asdict(self)
        # JSON has no infinity; None stands for "no epoch seen yet".
        state["best"] = None if math.isinf(self.best) else self.best
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> ReduceOnPlateau:
        state = dict(state)
        state["best"] = math.inf if state.get("best") is None else float(state["best"])
        return cls(**state)
