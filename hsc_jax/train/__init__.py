"""Training: `train(TrainConfig(...)) -> summary`, its checkpoints and outputs.

Evaluation and prediction of a trained model live in `hsc_jax.evaluation`.

    from hsc_jax.train import TrainConfig, train
    summary = train(TrainConfig(data_root="data.parquet", output_dir="runs/a", size="s"))

    from hsc_jax.train.checkpoint import load_checkpoint
    loaded = load_checkpoint("runs/a")   # newest best checkpoint; .model in eval mode

Submodules are imported lazily so that `hsc_jax.train.config` stays cheap to import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "train"]


def __getattr__(name: str) -> Any:
    if name == "TrainConfig":
        from hsc_jax.train.config import TrainConfig

        return TrainConfig
    if name == "train":
        from hsc_jax.train.trainer import train

        return train
    raise AttributeError(name)
