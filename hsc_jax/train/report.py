"""What a run says about itself: history entries, the per-epoch log line and summary.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hsc_jax.compile_cache import CompileTiming
from hsc_jax.train import outputs

HISTORY_METRICS = ("loss", "accuracy", "precision", "recall", "f1")


def history_entry(
    epoch: int,
    train: dict[str, Any],
    val: dict[str, Any] | None,
    lr: float,
    timing: dict[str, Any],
) -> dict[str, Any]:
    """One epoch of history.json: headline metrics per split, the lr it ran at, its timing."""

    def pick(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if metrics is None else {k: metrics[k] for k in HISTORY_METRICS}

    return {"epoch": epoch, "train": pick(train), "val": pick(val), "lr": lr, "timing": timing}


def average_entry(
    trained: dict[str, Any] | None,
    averaged: dict[str, Any] | None,
    weights: str,
    decay: float,
) -> dict[str, Any]:
    """History fields of a run with a moving average: both weights' validation (None without
    a validation split), which one the epoch's checkpoint exports ("model": the trained
    weights, or "average"; the entry's `val` is that one's) and the decay the average had
    reached."""

    def pick(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if metrics is None else {k: metrics[k] for k in HISTORY_METRICS}

    return {
        "val_trained": pick(trained),
        "val_average": pick(averaged),
        "weights": weights,
        "average_decay": decay,
    }


def average_note(entry: dict[str, Any]) -> str:
    """`  [exports the average: average f1 0.8123, trained 0.8011 (val loss 0.3933, what the
    schedule follows)]`, or "" without an average."""
    if "weights" not in entry:
        return ""
    exported = "the average" if entry["weights"] == "average" else "the trained weights"
    if entry["val_average"] is None:
        return f"  [exports {exported}: no validation split]"
    average, trained = entry["val_average"], entry["val_trained"]
    return (
        f"  [exports {exported}: average f1 {average['f1']:.4f}, trained {trained['f1']:.4f} "
        f"(val loss {trained['loss']:.4f}, what the schedule follows)]"
    )


def epoch_line(
    epoch: int,
    epochs: int,
    train: dict[str, Any],
    val: dict[str, Any] | None,
    lr: float,
    timing: dict[str, Any],
    improved: bool,
    next_lr: float | None,
) -> str:
    """`epoch 3/10  train loss ... | val loss ...  lr ...  12.3s (80 img/s, data wait 1%)`."""
    val_part = (
        ""
        if val is None
        else f" | val loss {val['loss']:.4f} acc {val['accuracy']:.4f} f1 {val['f1']:.4f}"
    )
    wait = 100.0 * timing["data_wait_s"] / max(timing["epoch_time_s"], 1e-9)
    return (
        f"epoch {epoch}/{epochs}  train loss {train['loss']:.4f} acc {train['accuracy']:.4f} "
        f"f1 {train['f1']:.4f}{val_part}  lr {lr:.3g}  {timing['epoch_time_s']:.1f}s "
        f"({timing['images_per_s'] or 0.0:.0f} img/s, data wait {wait:.0f}%)"
        + ("  * best" if improved else "")
        + (f"  (lr -> {next_lr:.3g})" if next_lr is not None else "")
    )


def compile_summary(
    train: CompileTiming, evaluate: CompileTiming | None, cache_dir: Path | None
) -> dict[str, Any]:
    """summary.json's `compile_s`: seconds to trace and compile each step (None: not needed),
    the persistent cache's part ("hit": every step loaded, "miss": every step compiled,
    "partial", or "off") and its folder."""
    states = {t.cache for t in (train, evaluate) if t is not None}
    return {
        "train_step": round(train.seconds, 3),
        "eval_step": None if evaluate is None else round(evaluate.seconds, 3),
        "cache": states.pop() if len(states) == 1 else "partial",
        "cache_dir": None if cache_dir is None else str(cache_dir),
    }


def compile_line(compile_s: dict[str, Any]) -> str:
    """`compiled train step 3.1s, eval step 0.8s (compilation cache hit: ~/.cache/...)`."""
    eval_s = compile_s["eval_step"]
    eval_part = "" if eval_s is None else f", eval step {eval_s:.1f}s"
    where = "" if compile_s["cache_dir"] is None else f": {compile_s['cache_dir']}"
    return (
        f"compiled train step {compile_s['train_step']:.1f}s{eval_part} "
        f"(compilation cache {compile_s['cache']}{where})"
    )


def mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def timing_summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean epoch time and throughput over the epochs of this invocation."""
    measured = [t for t in timings if t["images_per_s"]]
    return {
        "epochs_this_run": len(timings),
        "mean_epoch_time_s": mean_or_none([t["epoch_time_s"] for t in measured]),
        "mean_images_per_s": mean_or_none([t["images_per_s"] for t in measured]),
    }


def best_summary(best_meta: dict[str, Any] | None) -> dict[str, Any]:
    """The best checkpoint's headline: validation metrics when there are some, else train."""
    best_metrics = (best_meta or {}).get("metrics") or {}
    val_best = best_metrics.get("val")
    train_best = best_metrics.get("train")
    headline = val_best or train_best or {}
    return {
        "best_accuracy": headline.get("accuracy"),
        "best_f1": headline.get("f1"),
        "best_val_loss": None if val_best is None else val_best.get("loss"),
        "best_val_metrics": val_best,
        "best_train_metrics": train_best,
        "best_threshold": (best_meta or {}).get("val_threshold"),
        # "average" when the checkpoint exports the moving average of the weights.
        "best_weights": (best_meta or {}).get("weights", "model"),
    }


def run_summary(
    trainer: Any, best_meta: dict | None, test_metrics: dict | None, timings: list[dict]
) -> dict[str, Any]:
    """What summary.json holds for a finished `Trainer` run."""
    config, run, dataset = trainer.config, trainer.run, trainer.dataset
    return outputs.json_safe(
        {
            "best_checkpoint": run.best_path,
            "best_epoch": run.best_epoch,
            **best_summary(best_meta),
            "test_metrics": test_metrics,
            "mixed_precision": trainer.compute_dtype == jnp.bfloat16,
            "resumed_from": None if trainer.resume_path is None else str(trainer.resume_path),
            "history_path": str(trainer.output_dir / outputs.HISTORY_FILE),
            "retention": {
                "epoch_checkpoints": config.keep_epoch_checkpoints,
                "best_checkpoints": config.keep_best_checkpoints,
            },
            "tensorboard_dir": str(trainer.output_dir),
            "epochs_completed": run.epoch,
            **timing_summary(timings),
            "devices": {
                "backend": trainer.parallel.backend,
                "count": trainer.parallel.device_count,
                "processes": jax.process_count(),
            },
            "parameters": trainer.parameter_count,
            "compile_s": trainer.compile_s,
            "dataset": {
                "source": str(dataset.source),
                "sizes": {k: len(v) for k, v in dataset.splits.items()},
                "skipped_rows": dataset.skipped_rows,
                "cache": dataset.cache,
            },
        }
    )
