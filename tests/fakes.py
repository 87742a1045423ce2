"""A tiny stand-in model for trainer tests: the same call contract as hsc_jax.models
(float32 NHWC in [0, 1] -> (B,) logits, dropout RNG held inside), a few hundred parameters.

Tests import it as `from fakes import ...` (tests/ is on sys.path)."""

from __future__ import annotations

import jax
from flax import nnx

# `hsc-jax train` flags of the smallest real network: CLI tests that run the real models.
TINY_ARCH_FLAGS = ("--base_channels", "8", "--num_blocks", "1", "--arch", "baseline")


class TinyModel(nnx.Module):
    def __init__(self, channels: int = 4, dropout: float = 0.1, *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, channels, (3, 3), strides=(2, 2), rngs=rngs)
        self.norm = nnx.BatchNorm(channels, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.head = nnx.Linear(channels, 1, rngs=rngs)

    def __call__(self, images: jax.Array, *, recompute: str = "none") -> jax.Array:
        # No backbone stages, so nothing for `recompute` to recompute.
        x = nnx.relu(self.norm(self.conv(images)))  # (B, H/2, W/2, C)
        x = self.drop(x.mean(axis=(1, 2)))  # (B, C)
        return self.head(x)[:, 0]  # (B,)


def tiny_model_factory(model_config, image_size, seed=0, depthwise="auto"):
    """Signature of hsc_jax.models.create_model."""
    return TinyModel(rngs=nnx.Rngs(seed))


def tiny_config(data_root, output_dir, **overrides):
    """A TrainConfig that trains in seconds: small batches, a 60/20/20 split."""
    from hsc_jax.train.config import TrainConfig

    values = dict(
        data_root=str(data_root),
        output_dir=str(output_dir),
        epochs=1,
        batch_size=32,
        train_ratio=0.6,
        val_ratio=0.2,
        test_ratio=0.2,
        seed=0,
        num_workers=1,
    )
    values.update(overrides)
    return TrainConfig(**values)


def tiny_train_state(parallel, with_average: bool = False):
    """(graphdef, replicated state) of TinyModel in train mode with its optimiser, as the
    trainer splits them; `with_average` adds the moving average (--ema_decay)."""
    from hsc_jax.train import average, step

    model = TinyModel(rngs=nnx.Rngs(0))
    model.train()
    optimizer = step.make_optimizer(model, 1e-2, 1e-4)
    modules = (
        (model, optimizer, average.start_average(model)) if with_average else (model, optimizer)
    )
    graphdef, state = nnx.split(modules)
    return graphdef, parallel.put_replicated(state)


def tiny_train_batch(parallel):
    """Eight random 12x12 uint8 images and alternating 0/1 labels, put on the data axis."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 12, 12, 3), dtype=np.uint8)
    return parallel.put_batch(images), parallel.put_batch(np.array([0, 1] * 4, np.int32))
