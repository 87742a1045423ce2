"""One pass over a split: a training epoch through the jitted train step, or the eval step over
a whole split. Both run in every process of a run, each feeding its own rows of every batch.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import jax
import numpy as np

from hsc_jax.data.dataset import SplitData
from hsc_jax.errors import ConfigError
from hsc_jax.metrics import binary_metrics
from hsc_jax.train import outputs
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.mesh import DataParallel
from hsc_jax.train.pipeline import EpochPlan, epoch_batches, eval_batches
from hsc_jax.train.teacher import distilled_targets, teacher_probabilities

log = logging.getLogger("hsc_jax.train")

# Long CPU epochs log a heartbeat this many times (when they have at least HEARTBEAT_MIN_STEPS).
HEARTBEATS_PER_EPOCH = 4
HEARTBEAT_MIN_STEPS = 20


def training_targets(split: SplitData, config: TrainConfig) -> np.ndarray:
    """What the loss pulls each training image towards: its label, or under --soft_labels the
    share of annotators who saw a smile; with --teacher, mixed with the teacher's probability."""
    targets = split.labels
    if config.soft_labels:
        if split.vote_shares is None:
            raise ConfigError(
                f"--soft_labels needs happiness_votes and total_votes columns in {config.data_root}"
            )
        targets = split.vote_shares
    if config.teacher is None:
        return targets
    probs = teacher_probabilities(config.teacher, split)
    return distilled_targets(targets, probs, config.teacher_weight)


def train_epoch(
    train_step: Any,
    state: Any,
    split: SplitData,
    targets: np.ndarray,
    plan: EpochPlan,
    parallel: DataParallel,
    epoch_key: jax.Array,
    lr: float,
    config: TrainConfig,
) -> tuple[Any, dict[str, Any]]:
    """Run the epoch's steps towards `targets` (the split's labels, or its vote shares); returns
    the new state and {"metrics", "labels", "logits", "timing"} of the batches trained on
    (metrics at 0.5 over the epoch's logits, against the labels)."""
    batches = epoch_batches(
        split.images,
        targets,
        plan,
        parallel.local_slice(config.batch_size),
        config.seed,
        config.clahe_p,
        config.num_workers,
    )
    measured: list[dict[str, jax.Array]] = []
    wait = 0.0
    start = time.perf_counter()
    first_step_s = None
    bar = outputs.progress_bar(
        plan.steps * config.batch_size, f"epoch {plan.epoch} train", config.verbose
    )
    with bar:
        for step in range(plan.steps):
            t0 = time.perf_counter()
            images, labels = next(batches)
            wait += time.perf_counter() - t0
            state, m = train_step(
                state,
                parallel.put_batch(images),
                parallel.put_batch(labels),
                jax.random.fold_in(epoch_key, step),
                lr,
                plan.pos_weight,
            )
            measured.append(m)
            if first_step_s is None:
                jax.block_until_ready(m["loss"])
                first_step_s = time.perf_counter() - start
            bar.update(config.batch_size)
            _heartbeat(plan, step, start, config.batch_size, m["loss"])
        jax.block_until_ready(state)
    elapsed = time.perf_counter() - start
    host = jax.device_get(measured)
    losses = np.array([float(m["loss"]) for m in host])
    logits = np.concatenate([np.asarray(m["logits"]) for m in host])
    labels = split.labels[plan.batches.reshape(-1)]
    metrics = binary_metrics(labels, outputs.sigmoid(logits), 0.5, loss=float(losses.mean()))
    timing = {
        "epoch_time_s": elapsed,
        "first_step_s": first_step_s,
        "data_wait_s": wait,
        "images_per_s": plan.steps * config.batch_size / elapsed if elapsed > 0 else None,
        "grad_norm": float(np.mean([float(m["grad_norm"]) for m in host])),
        "param_norm": float(host[-1]["param_norm"]) if host else None,
    }
    return state, {"metrics": metrics, "labels": labels, "logits": logits, "timing": timing}


def _heartbeat(plan: EpochPlan, step: int, start: float, batch_size: int, loss: Any) -> None:
    """Long CPU epochs: a progress line in train.log even without progress bars. The steps are
    dispatched ahead of the device, so the line waits for this step's `loss`: its rate counts
    steps done, not steps queued (which ran at twice the true rate and more)."""
    done = step + 1
    if plan.steps < HEARTBEAT_MIN_STEPS or done >= plan.steps:
        return
    if done % (plan.steps // HEARTBEATS_PER_EPOCH) == 0:
        jax.block_until_ready(loss)
        rate = done * batch_size / (time.perf_counter() - start)
        log.info("epoch %d: step %d/%d, %.0f img/s", plan.epoch, done, plan.steps, rate)


def evaluate_split(
    eval_step: Any,
    model_state: Any,
    split: SplitData,
    name: str,
    parallel: DataParallel,
    config: TrainConfig,
    pos_weight: float,
) -> dict[str, Any]:
    """Metrics over the whole split: every process feeds its rows of each batch, the logits
    come back whole on every process, and the padding of the last batch is dropped, so each
    example counts once."""
    batch_size = config.batch_size
    rows = parallel.local_slice(batch_size)
    batches = eval_batches(split.images, batch_size, rows, config.num_workers)
    logits = np.empty((len(split),), np.float32)
    with outputs.progress_bar(len(split), name, config.verbose) as bar:
        for start, local in zip(range(0, len(split), batch_size), batches, strict=True):
            taken = min(batch_size, len(split) - start)
            batch_logits = eval_step(model_state, parallel.put_batch(local))
            logits[start : start + taken] = np.asarray(batch_logits, np.float32)[:taken]
            bar.update(taken)
    probs = outputs.sigmoid(logits)
    loss = outputs.bce(split.labels, logits, pos_weight)
    metrics = binary_metrics(split.labels, probs, 0.5, loss=loss)
    return {"metrics": metrics, "logits": logits, "probs": probs}
