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

    def __call__(self, images: jax.Array) -> jax.Array:
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
