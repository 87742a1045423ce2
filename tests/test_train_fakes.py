"""A tiny stand-in model for trainer tests: the same call contract as hsc_jax.models
(float32 NHWC in [0, 1] -> (B,) logits, dropout RNG held inside), a few hundred parameters."""

from __future__ import annotations

import os
import tempfile

import jax
from flax import nnx

# Every trainer test compiles the same small steps: a persistent compilation cache turns the
# repeats into cache hits (it is read at the first compilation, so set it at import).
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update(
        "jax_compilation_cache_dir", os.path.join(tempfile.gettempdir(), "hsc-jax-test-jit-cache")
    )
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


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


def tiny_model_factory(model_config, image_size, seed=0, depthwise="auto"):  # noqa: ANN001, ANN201
    """Signature of hsc_jax.models.create_model."""
    return TinyModel(rngs=nnx.Rngs(seed))


def tiny_config(data_root, output_dir, **overrides):  # noqa: ANN001, ANN003, ANN201
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
