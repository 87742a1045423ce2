"""An exponential moving average of the model's weights (`--ema_decay`).

The average is a second copy of the model that follows the trained one a little behind:
after every optimiser update, average = d * average + (1 - d) * model for each floating-point
entry of the model state (parameters and batch-norm statistics alike, so the averaged model
carries statistics that match its weights). It never feeds back into training, so one run
shows the raw and the averaged weights on the same trajectory; the trainer validates both each
epoch and keeps the better one as the checkpoint's model to export.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

# The early updates use a shorter memory, (1 + t) / (10 + t), as TensorFlow's
# ExponentialMovingAverage does with num_updates: an average that starts at the random
# initial weights would otherwise lag them for thousands of steps.
WARMUP_OFFSET = 10.0


def start_average(model: nnx.Module) -> nnx.Module:
    """The average before any update: a copy of `model` with buffers of its own (the train
    step donates the whole state, and XLA refuses one buffer donated twice)."""
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, jax.tree.map(jnp.copy, state))


def decay_at(decay: float, updates: jax.Array) -> jax.Array:
    """The decay for the average taken after `updates` optimiser updates."""
    t = jnp.asarray(updates, jnp.float32)
    return jnp.minimum(jnp.float32(decay), (1.0 + t) / (WARMUP_OFFSET + t))


def blend(average: Any, model: Any, decay: jax.Array) -> Any:
    """`decay * average + (1 - decay) * model` on floating-point leaves; other leaves (RNG
    keys and counters) are taken from the model."""

    def one(a: jax.Array, m: jax.Array) -> jax.Array:
        if not jnp.issubdtype(m.dtype, jnp.floating):
            return m
        return (decay * a + (1.0 - decay) * m).astype(m.dtype)

    return jax.tree.map(one, average, model)
