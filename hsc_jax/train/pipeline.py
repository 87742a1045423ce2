"""The host side of the input pipeline: one epoch's order, then batches from the uint8 cache.

The dataset layer decodes every image once into an (N, H, W, 3) uint8 array, so a batch is a
gather plus (rarely) CLAHE; grain runs those on a few threads ahead of the step. Everything is a
function of (seed, epoch, step), which is what makes a resumed run repeat an uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import grain
import numpy as np

from hsc_infer.labels import CLASS_NAMES
from hsc_jax.data.resample import resample_indices
from hsc_jax.train.augment import random_clahe

log = logging.getLogger("hsc_jax.train")

# Stream tags mixed into seeds so that data order and CLAHE never share random numbers.
ORDER_STREAM = 1
CLAHE_STREAM = 2
# How an epoch's order is drawn, as checkpoints record it (see plan_epoch).
DATA_ORDER_RULE = f"resample_indices(labels, mode, default_rng([seed, {ORDER_STREAM}, epoch]))"


@dataclass(frozen=True)
class EpochPlan:
    """Which training examples each step of one epoch sees."""

    epoch: int  # 1-based
    batches: np.ndarray  # (steps, batch_size) indices into the training split
    pos_weight: float  # negatives / positives over the epoch's resampled examples

    @property
    def steps(self) -> int:
        return len(self.batches)


def positive_weight(labels: np.ndarray) -> float:
    """negatives / positives; 1.0 with a warning when a class is missing."""
    positives = int(np.sum(labels == 1))
    negatives = int(np.sum(labels == 0))
    if positives == 0 or negatives == 0:
        missing = CLASS_NAMES[1] if positives == 0 else CLASS_NAMES[0]
        log.warning("the training samples have no %s example: pos_weight set to 1.0", missing)
        return 1.0
    return negatives / positives


def plan_epoch(
    labels: np.ndarray,
    mode: str,
    seed: int,
    epoch: int,
    batch_size: int,
    max_steps: int | None = None,
) -> EpochPlan:
    """Resample and shuffle for this epoch; the incomplete last batch is left out (it would
    change the step's shapes), and the order differs every epoch so nothing is always left."""
    order = resample_indices(labels, mode, np.random.default_rng([seed, ORDER_STREAM, epoch]))
    steps = len(order) // batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    batches = order[: steps * batch_size].reshape(steps, batch_size)
    return EpochPlan(epoch=epoch, batches=batches, pos_weight=positive_weight(labels[order]))


def epoch_batches(
    images: np.ndarray,
    labels: np.ndarray,
    plan: EpochPlan,
    rows: slice,
    seed: int,
    clahe_p: float,
    num_threads: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images uint8 (b, H, W, 3), labels (b,)) for this host's `rows` of every global batch.

    In-process grain (threads, no worker processes): on a few cores it is as fast, and it needs
    no absl flag set-up.
    """

    def load(step: int) -> tuple[np.ndarray, np.ndarray]:
        index = plan.batches[step, rows]
        batch = images[index]
        if clahe_p > 0:
            rng = np.random.default_rng([seed, CLAHE_STREAM, plan.epoch, step, rows.start or 0])
            batch = random_clahe(batch, rng, clahe_p)
        return batch, labels[index]

    dataset = grain.MapDataset.range(plan.steps).map(load)
    threads = max(1, num_threads)
    return iter(
        dataset.to_iter_dataset(
            grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads)
        )
    )
