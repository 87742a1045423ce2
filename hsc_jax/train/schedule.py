"""Learning-rate schedules, stepped once per epoch: reduce-on-plateau (PyTorch's
`ReduceLROnPlateau` rules, the reference's) and cosine annealing (`--lr_schedule cosine`).

Kept on the host as a small JSON-safe state so a checkpoint can resume it exactly; the step reads
the current rate as an argument, so changing it never recompiles.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

SCHEDULES = ("plateau", "cosine")


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
        state.pop("kind", None)
        state["best"] = math.inf if state.get("best") is None else float(state["best"])
        return cls(**state)


@dataclasses.dataclass
class CosineAnnealing:
    """`peak * (1 + cos(pi * e / epochs)) / 2` for epoch e = 0, 1, ...: the full rate in the
    first epoch, falling smoothly towards 0 in the last; the monitored loss plays no part."""

    peak: float
    epochs: int
    epochs_done: int = 0

    @property
    def lr(self) -> float:
        return self.peak * (1.0 + math.cos(math.pi * self.epochs_done / self.epochs)) / 2.0

    def step(self, loss: float) -> bool:
        """One epoch done; True: the rate changes (always, but at the end)."""
        self.epochs_done += 1
        return self.epochs_done < self.epochs

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "cosine", **dataclasses.asdict(self)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> CosineAnnealing:
        return cls(**{k: v for k, v in state.items() if k != "kind"})


Schedule = ReduceOnPlateau | CosineAnnealing


def make_schedule(kind: str, lr: float, epochs: int) -> Schedule:
    if kind == "cosine":
        return CosineAnnealing(peak=lr, epochs=epochs)
    if kind == "plateau":
        return ReduceOnPlateau(lr=lr)
    raise ValueError(f"unknown learning-rate schedule {kind!r}; choose one of {SCHEDULES}")


def schedule_from_state(state: dict[str, Any], epochs: int) -> Schedule:
    """The schedule a checkpoint recorded (those written before cosine existed are plateau),
    resumed into a run of `epochs`: a cosine schedule stretches to end with the run (a run given
    more epochs would otherwise train on at a rate of 0)."""
    if state.get("kind") == "cosine":
        schedule = CosineAnnealing.from_state_dict(state)
        schedule.epochs = max(epochs, schedule.epochs_done + 1)
        return schedule
    return ReduceOnPlateau.from_state_dict(state)
