"""Resuming: which checkpoint a run continues from, which of its settings it keeps, and the
host-side run state that a checkpoint records besides the arrays."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsc_jax.errors import ResumeError
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train.config import TrainConfig, fields_fixed_on_resume

log = logging.getLogger("hsc_jax.train")


def resolve_resume(config: TrainConfig) -> Path | None:
    """The checkpoint to continue from, or None for a fresh run (refusing to overwrite)."""
    output_dir = Path(config.output_dir)
    if config.resume is None:
        existing = ckpt.existing_checkpoint_folders(output_dir)
        if existing:
            raise ResumeError(
                f"{output_dir} already holds checkpoints ({existing[-1].name}, "
                f"{len(existing)} in all); refusing to overwrite them. Continue with "
                "--resume auto (or --resume PATH), or choose another --output_dir."
            )
        return None
    if config.resume == "auto":
        latest = ckpt.latest_checkpoint(output_dir)
        if latest is None:
            log.info("--resume auto: no complete checkpoint in %s, starting fresh", output_dir)
        return latest
    try:
        path = ckpt.resolve_checkpoint(config.resume)
        ckpt.read_meta(path)
    except ckpt.CheckpointError as e:
        raise ResumeError(f"--resume {config.resume}: {e}") from e
    return path


def read_resumable_meta(path: Path) -> dict[str, Any]:
    """The sidecar of a checkpoint that holds training state; a model-only one is refused."""
    meta = ckpt.read_meta(path)
    if meta.get("kind") == "model" or not (path / ckpt.OPTIMIZER_DIR).is_dir():
        raise ResumeError(f"{path} holds a model without training state; it cannot be resumed")
    return meta


def adopt_checkpoint_settings(config: TrainConfig, meta: dict[str, Any]) -> TrainConfig:
    """A resumed run keeps the data order, split and architecture it started with.

    Fields marked fixed on resume come from the checkpoint (with a warning where the command
    line asked otherwise); the rest (epochs, output folder, a moved data_root) are the new
    command's.
    """
    saved = TrainConfig.from_dict(meta["train_config"])
    fixed = fields_fixed_on_resume()
    changed = {
        name: (getattr(config, name), getattr(saved, name))
        for name in fixed
        if getattr(config, name) != getattr(saved, name)
    }
    if changed:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        log.warning("resuming keeps the checkpoint's settings (%s)", listed)
    values = config.to_dict()
    values.update({name: getattr(saved, name) for name in fixed})
    return TrainConfig.from_dict(values)


@dataclass
class RunState:
    """The host-side state a checkpoint records besides the arrays."""

    epoch: int = 0  # last completed epoch
    global_step: int = 0
    best_score: float = -math.inf
    best_epoch: int | None = None
    best_path: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> RunState:
        best = meta.get("best") or {}
        epoch = int(meta["epoch"])
        return cls(
            epoch=epoch,
            global_step=int(meta.get("global_step", 0)),
            best_score=-math.inf if best.get("score") is None else float(best["score"]),
            best_epoch=best.get("epoch"),
            best_path=best.get("path"),
            history=[h for h in meta.get("history", []) if h["epoch"] <= epoch],
        )

    def consider_best(self, epoch: int, score: float, output_dir: Path) -> bool:
        """Record `epoch` as the best so far when its score beats every earlier one."""
        if not score > self.best_score:
            return False
        self.best_score, self.best_epoch = score, epoch
        self.best_path = str(output_dir / ckpt.best_checkpoint_name(epoch, score))
        return True

    def best_record(self) -> dict[str, Any]:
        return {
            "score": self.best_score if self.best_epoch else None,
            "epoch": self.best_epoch,
            "path": self.best_path,
        }
