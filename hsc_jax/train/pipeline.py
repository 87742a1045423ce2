"""The host side of the input pipeline: one epoch's order, then batches of uint8 images.

With `--data_cache ram` the dataset layer has decoded every image once into an (N, H, W, 3)
uint8 array, so a batch is a gather plus (rarely) CLAHE; with `stream` the same gather reads and
decodes just the batch's rows from the stream index. Grain runs either on a few threads ahead of
the step. Everything is a function of (seed, epoch, step), never of the process, which is what
makes a resumed run repeat an uninterrupted one and N processes repeat one process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import grain
import numpy as np

from hsc_infer.labels import CLASS_NAMES
from hsc_jax.data.resample import resample_indices
from hsc_jax.data.stream import StreamImages
from hsc_jax.train.augment import clahe_where

log = logging.getLogger("hsc_jax.train")

# The decoded array (ram) or the stream index's view (stream): both give arrays when indexed.
Images = np.ndarray | StreamImages

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
    images: Images,
    labels: np.ndarray,
    plan: EpochPlan,
    rows: slice,
    seed: int,
    clahe_p: float,
    num_threads: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images uint8 (b, H, W, 3), labels (b,)) for this process's `rows` of every global batch.

    In-process grain (threads, no worker processes): on a few cores it is as fast, and it needs
    no absl flag set-up. CLAHE is drawn for the whole global batch and then cut to `rows`, so
    each image gets the same draw whichever process feeds it.
    """

    def load(step: int) -> tuple[np.ndarray, np.ndarray]:
        index = plan.batches[step, rows]
        batch = images[index]
        if clahe_p > 0:
            rng = np.random.default_rng([seed, CLAHE_STREAM, plan.epoch, step, 0])
            batch = clahe_where(batch, rng.random(plan.batches.shape[1])[rows] < clahe_p)
        return batch, labels[index]

    return _threaded(grain.MapDataset.range(plan.steps).map(load), num_threads)


def eval_batches(
    images: Images, batch_size: int, rows: slice, num_threads: int
) -> Iterator[np.ndarray]:
    """This process's `rows` of each fixed-size batch over a whole split, in order; the last
    batch is padded with zeros so the jitted step compiles once (the caller drops the padding).
    """
    count = len(images)
    local = rows.stop - rows.start

    def load(batch: int) -> np.ndarray:
        start = batch * batch_size + rows.start
        stop = min(batch * batch_size + rows.stop, count)
        chunk = images[start:stop] if stop > start else None
        if chunk is not None and len(chunk) == local:
            return chunk
        padded = np.zeros((local, *images.shape[1:]), np.uint8)
        if chunk is not None:
            padded[: len(chunk)] = chunk
        return padded

    steps = -(-count // batch_size)
    return _threaded(grain.MapDataset.range(steps).map(load), num_threads)


def _threaded(dataset: grain.MapDataset, num_threads: int) -> Iterator:
    threads = max(1, num_threads)
    return iter(
        dataset.to_iter_dataset(
            grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads)
        )
    )
