"""The jit-compiled training and evaluation steps.

Both are pure functions of an explicit state (`nnx.split` of model and optimiser): the training
step donates that state and returns the new one with a dict of measurements. Scaling after
augmentation reads scale/mean/std from the preprocessing contract, so evaluation here and
inference in `hsc_infer` turn uint8 pixels into model input the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hsc_infer.contract import ModelContract
from hsc_jax.train import average
from hsc_jax.train.augment import augment_batch
from hsc_jax.train.augment_wild import SPOILT_SHARE, augment_wild
from hsc_jax.train.mesh import DataParallel

log = logging.getLogger("hsc_jax.train")

# The wild augmentation draws from its own stream of the step's key, so turning it on leaves the
# reference steps' draws as they were.
WILD_STREAM = 1
MIXUP_STREAM = 2


@dataclass(frozen=True)
class InputScaling:
    """The contract's uint8 -> model input mapping: (x * scale - mean) / std."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_contract(cls, contract: ModelContract) -> InputScaling:
        return cls(float(contract.scale), tuple(contract.mean), tuple(contract.std))

    def normalise(self, x01: jax.Array) -> jax.Array:
        """Values already scaled (augmentation output, [0, 1]) -> model input."""
        mean = jnp.asarray(self.mean, jnp.float32)
        std = jnp.asarray(self.std, jnp.float32)
        return (x01 - mean) / std

    def from_uint8(self, images: jax.Array) -> jax.Array:
        """The in-jit twin of `hsc_infer.contract.scale_batch` (NHWC)."""
        return self.normalise(images.astype(jnp.float32) * self.scale)


def weighted_bce(logits: jax.Array, labels: jax.Array, pos_weight: jax.Array) -> jax.Array:
    """Per-sample sigmoid BCE with the positive term weighted, as PyTorch's
    `BCEWithLogitsLoss(pos_weight=...)`: -(w y log s(x) + (1 - y) log(1 - s(x)))."""
    labels = labels.astype(jnp.float32)
    return -(
        pos_weight * labels * jax.nn.log_sigmoid(logits)
        + (1.0 - labels) * jax.nn.log_sigmoid(-logits)
    )


def _cast_floats(tree: Any, dtype: jnp.dtype) -> Any:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def forward(
    model: nnx.Module, images: jax.Array, compute_dtype: jnp.dtype, recompute: str = "none"
) -> jax.Array:
    """Logits in float32; with a bfloat16 compute dtype the parameters are cast for the call
    only (float32 masters stay in the model) and updated statistics are copied back.
    `recompute` ("none", "stages", "all"): which of the backbone's activations are recomputed
    in the backward pass instead of kept (models/recompute.py)."""
    if compute_dtype == jnp.float32:
        return model(images, recompute=recompute).astype(jnp.float32)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    low = nnx.merge(graphdef, _cast_floats(params, compute_dtype), rest)
    logits = low(images.astype(compute_dtype), recompute=recompute).astype(jnp.float32)
    new_rest = nnx.state(low, nnx.Not(nnx.Param))
    dtypes = jax.tree.map(lambda x: x.dtype, rest)
    nnx.update(model, jax.tree.map(lambda x, d: x.astype(d), new_rest, dtypes))
    return logits


def loss_fn(
    model: nnx.Module,
    images: jax.Array,
    labels: jax.Array,
    pos_weight: jax.Array,
    compute_dtype: jnp.dtype = jnp.float32,
    recompute: str = "none",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean class-weighted BCE over the batch; aux carries the logits for the epoch metrics."""
    logits = forward(model, images, compute_dtype, recompute)
    loss = weighted_bce(logits, labels, pos_weight).mean()
    return loss, {"logits": logits}


def set_learning_rate(optimizer: nnx.Optimizer, lr: jax.Array) -> None:
    """Write the current rate into the `inject_hyperparams` state (no recompilation)."""
    optimizer.opt_state.hyperparams["learning_rate"][...] = jnp.asarray(lr, jnp.float32)


def make_optimizer(model: nnx.Module, lr: float, weight_decay: float) -> nnx.Optimizer:
    """AdamW with decay on every parameter; the rate is a state entry so the plateau schedule
    can change it between epochs."""
    tx = optax.inject_hyperparams(optax.adamw)(
        learning_rate=lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=weight_decay
    )
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


TrainStep = Callable[..., tuple[Any, dict[str, jax.Array]]]


def resolve_recompute(setting: str, backend: str) -> str:
    """--recompute "auto": the stages on CPU, where recomputing them was measured to halve the
    step's scratch memory at no loss of speed (docs/models-benchmark.md), nothing on an
    accelerator, where it has not been measured; other settings stand as given."""
    if setting != "auto":
        return setting
    return "stages" if backend == "cpu" else "none"


def mix_batch(
    images: jax.Array, targets: jax.Array, key: jax.Array, alpha: float
) -> tuple[jax.Array, jax.Array]:
    """Mixup: each image and its target blended with those of another image of the batch (a
    random pairing), by a share drawn per image from Beta(alpha, alpha)."""
    share_key, pair_key = jax.random.split(key)
    batch = images.shape[0]
    share = jax.random.beta(share_key, alpha, alpha, (batch,))
    partner = jax.random.permutation(pair_key, batch)
    mixed = share[:, None, None, None] * images + (1 - share[:, None, None, None]) * images[partner]
    targets = targets.astype(jnp.float32)
    return mixed, share * targets + (1 - share) * targets[partner]


def make_train_step(
    graphdef: nnx.GraphDef,
    scaling: InputScaling,
    parallel: DataParallel,
    compute_dtype: jnp.dtype = jnp.float32,
    augmentation: str = "reference",
    mixup: float = 0.0,
    ema_decay: float = 0.0,
    recompute: str = "auto",
    wild_share: float = SPOILT_SHARE,
) -> TrainStep:
    """`step(state, images_uint8, targets, key, lr, pos_weight) -> (state, measurements)`.

    `graphdef`/`state` come from `nnx.split((model, optimizer))` with the model in train mode,
    or `nnx.split((model, optimizer, averaged_model))` when `ema_decay` > 0 (average.py).
    The state is donated; images and targets (0/1 labels, or soft targets in [0, 1]) arrive
    sharded over the data axis. `augmentation` is "reference" or "wild" (augment_wild.py,
    spoiling `wild_share` of the samples).
    `mixup` > 0 blends each augmented image and its target with another of the batch's
    (`mix_batch`). `recompute` trades arithmetic for memory (`forward`; "auto":
    `resolve_recompute`)."""
    if augmentation not in ("reference", "wild"):
        raise ValueError(f"augmentation must be 'reference' or 'wild', got {augmentation!r}")
    recompute = resolve_recompute(recompute, parallel.backend)

    def train_step(state, images, labels, key, lr, pos_weight):
        model, optimizer, *averaged = nnx.merge(graphdef, state)
        x = augment_batch(images, key)
        if augmentation == "wild":
            x = augment_wild(x, jax.random.fold_in(key, WILD_STREAM), wild_share)
        x = scaling.normalise(x)
        if mixup > 0:
            x, labels = mix_batch(x, labels, jax.random.fold_in(key, MIXUP_STREAM), mixup)
        grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
        (loss, aux), grads = grad_fn(model, x, labels, pos_weight, compute_dtype, recompute)
        set_learning_rate(optimizer, lr)
        optimizer.update(model, grads)
        if ema_decay > 0:
            decay = average.decay_at(ema_decay, optimizer.step[...])
            nnx.update(averaged[0], average.blend(nnx.state(averaged[0]), nnx.state(model), decay))
        measurements = {
            "loss": loss,
            "grad_norm": optax.tree.norm(grads),
            "param_norm": optax.tree.norm(nnx.state(model, nnx.Param)),
            "logits": aux["logits"],
        }
        return nnx.state((model, optimizer, *averaged)), measurements

    return jax.jit(
        train_step,
        donate_argnums=(0,),
        out_shardings=(parallel.replicated, parallel.replicated),
    )


def make_eval_step(
    eval_graphdef: nnx.GraphDef, scaling: InputScaling, parallel: DataParallel
) -> Callable[[Any, jax.Array], jax.Array]:
    """`step(model_state, images_uint8) -> logits` in eval mode and float32 (what export sees)."""

    def eval_step(model_state, images):
        model = nnx.merge(eval_graphdef, model_state)
        return model(scaling.from_uint8(images)).astype(jnp.float32)

    return jax.jit(eval_step, out_shardings=parallel.replicated)


def logits_in_batches(
    forward: Callable[[np.ndarray], jax.Array],
    inputs: np.ndarray,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """`forward(batch)` over `inputs` in batches of exactly `batch_size` rows, so the jitted
    function compiles once: the last batch is padded with zeros and the padding dropped."""
    count = len(inputs)
    out = np.empty((count,), np.float32)
    for start in range(0, count, batch_size):
        chunk = inputs[start : start + batch_size]
        taken = len(chunk)
        if taken < batch_size:
            pad = np.zeros((batch_size - taken, *inputs.shape[1:]), inputs.dtype)
            chunk = np.concatenate([chunk, pad])
        out[start : start + taken] = np.asarray(forward(chunk), dtype=np.float32)[:taken]
        if progress is not None:
            progress(taken)
    return out


def jit_inference(model: nnx.Module) -> Callable[[np.ndarray], jax.Array]:
    """The model in eval mode as one jitted function of a preprocessed float batch."""
    model.eval()
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))
    return lambda batch: forward(state, batch)


def compute_dtype_for(use_amp: bool, parallel: DataParallel) -> jnp.dtype:
    """bfloat16 under --use_amp on an accelerator, else float32."""
    if not use_amp:
        return jnp.float32
    if parallel.backend == "cpu":
        log.warning("--use_amp: mixed precision needs an accelerator; training in float32 on CPU")
        return jnp.float32
    return jnp.bfloat16
