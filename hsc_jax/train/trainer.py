"""`train(config) -> summary`: the whole run, from the dataset to the test evaluation.

The loop is plain Python around two jitted functions (step.py); everything random is a function
of (seed, epoch, step) or lives in the checkpointed model state, so `--resume` continues exactly
where an uninterrupted run would be.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hsc_infer.contract import ModelContract
from hsc_jax.data.dataset import Dataset, SplitData, load_dataset
from hsc_jax.metrics import binary_metrics, f1_optimal_threshold
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train import outputs
from hsc_jax.train.config import ConfigError, TrainConfig
from hsc_jax.train.mesh import DataParallel, data_parallel, maybe_initialize_distributed
from hsc_jax.train.pipeline import EpochPlan, epoch_batches, plan_epoch
from hsc_jax.train.schedule import ReduceOnPlateau
from hsc_jax.train.step import (
    InputScaling,
    make_eval_step,
    make_optimizer,
    make_train_step,
    predict_logits,
)

log = logging.getLogger("hsc_jax.train")

HISTORY_METRICS = ("loss", "accuracy", "precision", "recall", "f1")


class ResumeError(RuntimeError):
    """--resume cannot be honoured, or a fresh run would overwrite checkpoints."""


@dataclass
class RunState:
    """The host-side state a checkpoint records besides the arrays."""

    epoch: int = 0  # last completed epoch
    global_step: int = 0
    best_score: float = -math.inf
    best_epoch: int | None = None
    best_path: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


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
    path = Path(config.resume)
    try:
        path = ckpt.resolve_checkpoint(path)
        ckpt.read_meta(path)
    except ckpt.CheckpointError as e:
        raise ResumeError(f"--resume {config.resume}: {e}") from e
    return path


def _adopt_checkpoint_settings(config: TrainConfig, meta: dict[str, Any]) -> TrainConfig:
    """A resumed run keeps the data, seed and architecture it started with."""
    saved = TrainConfig.from_dict(meta["train_config"])
    # data_root may differ (a moved file); everything that shapes the data order, the split or
    # the model must not, or the resumed epochs would not continue the same run.
    fixed = (
        "seed",
        "train_resampling",
        "image_size",
        "train_ratio",
        "val_ratio",
        "test_ratio",
        "batch_size",
        "size",
        "base_channels",
        "num_blocks",
        "dropout",
        "arch_variant",
        "head_variant",
        "token_mixer_grid",
        "token_mixer_layers",
        "rgb_to_yuv_to_y",
        "rgb_to_lab",
        "rgb_to_luv",
        "skip_bad_rows",
    )
    changed = {}
    for name in fixed:
        if getattr(config, name) != getattr(saved, name):
            changed[name] = (getattr(config, name), getattr(saved, name))
    if changed:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
        log.warning("resuming keeps the checkpoint's settings (%s)", listed)
    values = config.to_dict()
    values.update({name: getattr(saved, name) for name in fixed})
    return TrainConfig.from_dict(values)


def _compute_dtype(config: TrainConfig, parallel: DataParallel) -> jnp.dtype:
    if not config.use_amp:
        return jnp.float32
    if parallel.backend == "cpu":
        log.warning("--use_amp: mixed precision needs an accelerator; training in float32 on CPU")
        return jnp.float32
    return jnp.bfloat16


def _history_entry(
    epoch: int, train: dict[str, Any], val: dict[str, Any] | None, lr: float, extra: dict
) -> dict[str, Any]:
    def pick(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if metrics is None else {k: metrics[k] for k in HISTORY_METRICS}

    return {"epoch": epoch, "train": pick(train), "val": pick(val), "lr": lr, **extra}


class Trainer:
    """One run: holds the model, the optimiser state, the data and the outputs."""

    def __init__(self, config: TrainConfig, model_factory: ckpt.ModelFactory | None = None):
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.primary = jax.process_index() == 0
        self.model_factory = model_factory or ckpt._default_factory()
        self.resume_path: Path | None = None
        self.run = RunState()

    # --- set-up ----------------------------------------------------------------------------

    def setup(self, resume_path: Path | None) -> None:
        config = self.config
        self.resume_path = resume_path
        resume_meta = ckpt.read_meta(resume_path) if resume_path else None
        if resume_meta is not None:
            if (
                resume_meta.get("kind") == "model"
                or not (resume_path / ckpt.OPTIMIZER_DIR).is_dir()
            ):
                raise ResumeError(
                    f"{resume_path} holds a model without training state; it cannot be resumed"
                )
            config = self.config = _adopt_checkpoint_settings(config, resume_meta)

        self.parallel = data_parallel(config.device)
        self.parallel.check_batch_size(config.batch_size)
        self.compute_dtype = _compute_dtype(config, self.parallel)
        log.info(
            "devices: %d %s device(s) on %d host(s); global batch %d",
            self.parallel.device_count,
            self.parallel.backend,
            jax.process_count(),
            config.batch_size,
        )

        self.dataset = load_dataset(
            config.data_root,
            image_size=config.image_size,
            train_ratio=config.train_ratio,
            val_ratio=config.val_ratio,
            test_ratio=config.test_ratio,
            seed=config.seed,
            skip_bad_rows=config.skip_bad_rows,
        )
        if self.dataset.skipped_rows:
            log.warning("--skip_bad_rows: %d bad rows left out", self.dataset.skipped_rows)
        self.train_split = self.dataset.splits["train"]
        self.val_split = _non_empty(self.dataset.splits.get("val"))
        self.test_split = _non_empty(self.dataset.splits.get("test"))
        if len(self.train_split) < config.batch_size:
            raise ConfigError(
                f"--batch_size {config.batch_size} is larger than the training split "
                f"({len(self.train_split)} examples); lower it"
            )

        self.model_config = config.model_config()
        model = self.model_factory(
            self.model_config, image_size=config.image_size, seed=config.seed, depthwise="auto"
        )
        optimizer = make_optimizer(model, config.lr, config.weight_decay)
        self.schedule = ReduceOnPlateau(lr=config.lr)
        if resume_meta is not None:
            self._restore(model, optimizer, resume_meta)

        model.train()
        self.graphdef, state = nnx.split((model, optimizer))
        model.eval()
        eval_graphdef = nnx.graphdef(model)
        self.state = self.parallel.put_replicated(state)
        self.contract = ModelContract(
            input_size=config.image_size,
            colour_mode="grey" if _all_grey(self.train_split.images) else "rgb",
            crop_kind=config.crop_kind,
            crop_margin=config.crop_margin,
            model_config=self.model_config.to_dict(),
            training_config=config.to_dict(),
            tool_version=ckpt.tool_version(),
        )
        scaling = InputScaling.from_contract(self.contract)
        if abs(scaling.scale - 1.0 / 255.0) > 1e-9:
            raise ConfigError("augmentation works on [0, 1] pixels: contract scale must be 1/255")
        self.train_step = make_train_step(
            self.graphdef, scaling, self.parallel, compute_dtype=self.compute_dtype
        )
        self.eval_step = make_eval_step(eval_graphdef, scaling, self.parallel)
        self.base_key = jax.random.key(config.seed)
        self.scalars = outputs.Scalars(self.output_dir) if self.primary else None
        parameters = sum(int(np.size(x)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
        log.info(
            "model %s at %dx%d: %d parameters; %s",
            json.dumps(self.model_config.to_dict()),
            *config.image_size,
            parameters,
            "bfloat16 compute" if self.compute_dtype == jnp.bfloat16 else "float32",
        )
        self.parameter_count = parameters

    def _restore(self, model: nnx.Module, optimizer: nnx.Optimizer, meta: dict[str, Any]) -> None:
        assert self.resume_path is not None
        replicated = self.parallel.replicated
        nnx.update(
            model,
            ckpt.restore_into(self.resume_path / ckpt.MODEL_DIR, nnx.state(model), replicated),
        )
        nnx.update(
            optimizer,
            ckpt.restore_into(
                self.resume_path / ckpt.OPTIMIZER_DIR, nnx.state(optimizer), replicated
            ),
        )
        self.schedule = ReduceOnPlateau.from_state_dict(meta["schedule"])
        best = meta.get("best") or {}
        epoch = int(meta["epoch"])
        self.run = RunState(
            epoch=epoch,
            global_step=int(meta.get("global_step", 0)),
            best_score=-math.inf if best.get("score") is None else float(best["score"]),
            best_epoch=best.get("epoch"),
            best_path=best.get("path"),
            history=[h for h in meta.get("history", []) if h["epoch"] <= epoch],
        )
        # Best checkpoints of epochs after the resume point describe a history being replaced.
        for path in ckpt.list_checkpoints(self.output_dir, "best"):
            if ckpt._epoch_of(path) > epoch and self.primary:
                log.warning("removing %s: it comes after the resumed epoch %d", path.name, epoch)
                shutil.rmtree(path, ignore_errors=True)
        log.info("resumed from %s (epoch %d, lr %.3g)", self.resume_path, epoch, self.schedule.lr)

    # --- one epoch -------------------------------------------------------------------------

    def train_epoch(self, plan: EpochPlan) -> dict[str, Any]:
        config = self.config
        rows = self.parallel.local_slice(config.batch_size)
        batches = epoch_batches(
            self.train_split.images,
            self.train_split.labels,
            plan,
            rows,
            config.seed,
            config.clahe_p,
            config.num_workers,
        )
        epoch_key = jax.random.fold_in(self.base_key, plan.epoch)
        lr = self.schedule.lr
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
                key = jax.random.fold_in(epoch_key, step)
                self.state, m = self.train_step(
                    self.state,
                    self.parallel.put_batch(images),
                    self.parallel.put_batch(labels),
                    key,
                    lr,
                    plan.pos_weight,
                )
                measured.append(m)
                if first_step_s is None:
                    jax.block_until_ready(m["loss"])
                    first_step_s = time.perf_counter() - start
                bar.update(config.batch_size)
                if (
                    plan.steps >= 20
                    and (step + 1) % (plan.steps // 4) == 0
                    and step + 1 < plan.steps
                ):
                    # Long CPU epochs: a heartbeat in train.log even without progress bars.
                    seen = (step + 1) * config.batch_size
                    log.info(
                        "epoch %d: step %d/%d, %.0f img/s",
                        plan.epoch,
                        step + 1,
                        plan.steps,
                        seen / (time.perf_counter() - start),
                    )
            jax.block_until_ready(self.state)
        elapsed = time.perf_counter() - start
        self.run.global_step += plan.steps
        host = jax.device_get(measured)
        losses = np.array([float(m["loss"]) for m in host])
        logits = np.concatenate([np.asarray(m["logits"]) for m in host])
        labels = self.train_split.labels[plan.batches.reshape(-1)]
        metrics = binary_metrics(labels, outputs.sigmoid(logits), 0.5, loss=float(losses.mean()))
        images_seen = plan.steps * config.batch_size
        timing = {
            "epoch_time_s": elapsed,
            "first_step_s": first_step_s,
            "data_wait_s": wait,
            "images_per_s": images_seen / elapsed if elapsed > 0 else None,
            "grad_norm": float(np.mean([float(m["grad_norm"]) for m in host])),
            "param_norm": float(host[-1]["param_norm"]) if host else None,
        }
        return {"metrics": metrics, "labels": labels, "logits": logits, "timing": timing}

    def evaluate_split(
        self, split: SplitData, name: str, model_state: Any, pos_weight: float
    ) -> dict[str, Any]:
        bar = outputs.progress_bar(len(split), f"{name}", self.config.verbose)
        with bar:
            logits = predict_logits(
                self.eval_step,
                model_state,
                split.images,
                self.config.batch_size,
                self.parallel,
                progress=bar.update,
            )
        probs = outputs.sigmoid(logits)
        loss = outputs.bce(split.labels, logits, pos_weight)
        metrics = binary_metrics(split.labels, probs, 0.5, loss=loss)
        return {"metrics": metrics, "logits": logits, "probs": probs}

    # --- checkpoints -----------------------------------------------------------------------

    def _meta(self, epoch: int, metrics: dict[str, Any], threshold: dict[str, Any]) -> dict:
        contract = self.contract.with_threshold(threshold["threshold"])
        return outputs.json_safe(
            {
                "kind": "epoch",
                "epoch": epoch,
                "global_step": self.run.global_step,
                "seed": self.config.seed,
                "data_order": {
                    "rule": "resample_indices(labels, mode, default_rng([seed, 1, epoch]))",
                    "next_epoch": epoch + 1,
                },
                "schedule": self.schedule.state_dict(),
                "metrics": metrics,
                "val_threshold": threshold,
                "best": {
                    "score": self.run.best_score if self.run.best_epoch else None,
                    "epoch": self.run.best_epoch,
                    "path": self.run.best_path,
                },
                "history": self.run.history,
                "model_config": self.model_config.to_dict(),
                "train_config": self.config.to_dict(),
                "contract": json.loads(contract.to_json()),
                "label_map": ckpt.LABEL_MAP,
                "image_size": list(self.config.image_size),
                "tool_version": ckpt.tool_version(),
            }
        )

    def save_checkpoints(self, epoch: int, meta: dict[str, Any], improved: bool) -> None:
        if not self.primary:
            return
        # Replicated arrays: every host holds the whole value, so the primary writes its local
        # copy as plain numpy (restorable onto any device count, no cross-host save protocol).
        model_state, optimizer_state = _local_copy(self.state[0]), _local_copy(self.state[1])
        path = ckpt.write_checkpoint(
            self.output_dir / ckpt.epoch_checkpoint_name(epoch), model_state, optimizer_state, meta
        )
        ckpt.prune_checkpoints(self.output_dir, "epoch", self.config.keep_epoch_checkpoints)
        if improved:
            best = self.output_dir / Path(self.run.best_path).name
            tmp = best.with_name(f"{best.name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(path, tmp)
            best_meta = json.loads((tmp / ckpt.META_FILE).read_text())
            (tmp / ckpt.META_FILE).write_text(json.dumps({**best_meta, "kind": "best"}, indent=2))
            if best.exists():
                shutil.rmtree(best)
            os.replace(tmp, best)
            ckpt.prune_checkpoints(self.output_dir, "best", self.config.keep_best_checkpoints)

    # --- the run ---------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        config = self.config
        if self.primary:
            stale = ckpt.remove_stale_temporaries(self.output_dir)
            for path in stale:
                log.warning("removed %s, left by an interrupted checkpoint write", path.name)
            outputs.write_json(self.output_dir / outputs.HISTORY_FILE, self.run.history)
        timings = []
        for epoch in range(self.run.epoch + 1, config.epochs + 1):
            plan = plan_epoch(
                self.train_split.labels,
                config.train_resampling,
                config.seed,
                epoch,
                config.batch_size,
                config.max_steps_per_epoch,
            )
            lr = self.schedule.lr
            trained = self.train_epoch(plan)
            train_metrics = trained["metrics"]
            val = None
            if self.val_split is not None:
                val = self.evaluate_split(self.val_split, "val", self.state[0], plan.pos_weight)
            val_metrics = None if val is None else val["metrics"]
            if val is not None:
                threshold, f1_at = f1_optimal_threshold(self.val_split.labels, val["probs"])
                val_threshold = {"threshold": threshold, "f1": f1_at, "split": "val"}
            else:
                val_threshold = {"threshold": 0.5, "f1": None, "split": None}
            monitored = val_metrics["loss"] if val_metrics else train_metrics["loss"]
            score = val_metrics["f1"] if val_metrics else train_metrics["f1"]
            improved = score > self.run.best_score
            if improved:
                self.run.best_score = score
                self.run.best_epoch = epoch
                self.run.best_path = str(self.output_dir / ckpt.best_checkpoint_name(epoch, score))
            reduced = self.schedule.step(monitored)
            timing = trained["timing"]
            timings.append(timing)
            self.run.epoch = epoch
            self.run.history.append(
                _history_entry(epoch, train_metrics, val_metrics, lr, {"timing": timing})
            )
            metrics = {"train": train_metrics, "val": val_metrics}
            self.save_checkpoints(epoch, self._meta(epoch, metrics, val_threshold), improved)
            if self.primary:
                self._epoch_outputs(epoch, trained, val, lr)
            log.info(
                "epoch %d/%d  train loss %.4f acc %.4f f1 %.4f%s  lr %.3g  %.1fs (%.0f img/s, "
                "data wait %.0f%%)%s%s",
                epoch,
                config.epochs,
                train_metrics["loss"],
                train_metrics["accuracy"],
                train_metrics["f1"],
                ""
                if val_metrics is None
                else f" | val loss {val_metrics['loss']:.4f} acc {val_metrics['accuracy']:.4f} "
                f"f1 {val_metrics['f1']:.4f}",
                lr,
                timing["epoch_time_s"],
                timing["images_per_s"] or 0.0,
                100.0 * timing["data_wait_s"] / max(timing["epoch_time_s"], 1e-9),
                "  * best" if improved else "",
                f"  (lr -> {self.schedule.lr:.3g})" if reduced else "",
            )
        return self.finish(timings)

    def _epoch_outputs(self, epoch: int, trained: dict, val: dict | None, lr: float) -> None:
        outputs.write_json(self.output_dir / outputs.HISTORY_FILE, self.run.history)
        assert self.scalars is not None
        self.scalars.split_metrics("train", trained["metrics"], epoch)
        self.scalars.learning_rate(lr, epoch)
        outputs.save_diagnostics(
            self.output_dir, "train", epoch, trained["labels"], outputs.sigmoid(trained["logits"])
        )
        if val is not None:
            self.scalars.split_metrics("val", val["metrics"], epoch)
            outputs.save_diagnostics(
                self.output_dir, "val", epoch, self.val_split.labels, val["probs"]
            )
        self.scalars.writer.flush()

    def finish(self, timings: list[dict[str, Any]]) -> dict[str, Any]:
        """Evaluate the best checkpoint on the test split and write summary.json."""
        best_meta = None
        best_path = Path(self.run.best_path) if self.run.best_path else None
        if best_path is not None and ckpt.is_complete(best_path):
            best_meta = ckpt.read_meta(best_path)
        test_metrics = None
        if self.test_split is not None:
            model_state = self.state[0]
            if best_path is not None and ckpt.is_complete(best_path):
                model_state = ckpt.restore_into(
                    best_path / ckpt.MODEL_DIR, self.state[0], self.parallel.replicated
                )
            pos_weight = 1.0
            if self.run.history:
                pos_weight = plan_epoch(
                    self.train_split.labels,
                    self.config.train_resampling,
                    self.config.seed,
                    max(self.run.epoch, 1),
                    self.config.batch_size,
                    1,
                ).pos_weight
            test = self.evaluate_split(self.test_split, "test", model_state, pos_weight)
            test_metrics = test["metrics"]
            threshold = (best_meta or {}).get("val_threshold", {}).get("threshold", 0.5)
            test_metrics["at_threshold"] = binary_metrics(
                self.test_split.labels, test["probs"], threshold, loss=test_metrics["loss"]
            )
            if self.primary:
                outputs.write_test_predictions(
                    self.output_dir / outputs.TEST_PREDICTIONS_FILE,
                    self.test_split.paths,
                    self.test_split.labels,
                    test["logits"],
                )
                assert self.scalars is not None
                self.scalars.split_metrics("test", test_metrics, self.run.best_epoch or 0)
            log.info(
                "test (best epoch %s): loss %.4f acc %.4f f1 %.4f auc %s",
                self.run.best_epoch,
                test_metrics["loss"],
                test_metrics["accuracy"],
                test_metrics["f1"],
                test_metrics["roc_auc"],
            )
        summary = self._summary(best_meta, test_metrics, timings)
        if self.primary:
            outputs.write_json(self.output_dir / outputs.SUMMARY_FILE, summary)
            assert self.scalars is not None
            self.scalars.close()
        return summary

    def _summary(
        self, best_meta: dict | None, test_metrics: dict | None, timings: list[dict]
    ) -> dict[str, Any]:
        best_metrics = (best_meta or {}).get("metrics") or {}
        val_best = best_metrics.get("val")
        train_best = best_metrics.get("train")
        headline = val_best or train_best or {}
        measured = [t for t in timings if t["images_per_s"]]
        return outputs.json_safe(
            {
                "best_checkpoint": self.run.best_path,
                "best_epoch": self.run.best_epoch,
                "best_accuracy": headline.get("accuracy"),
                "best_f1": headline.get("f1"),
                "best_val_loss": None if val_best is None else val_best.get("loss"),
                "best_val_metrics": val_best,
                "best_train_metrics": train_best,
                "best_threshold": (best_meta or {}).get("val_threshold"),
                "test_metrics": test_metrics,
                "mixed_precision": self.compute_dtype == jnp.bfloat16,
                "resumed_from": None if self.resume_path is None else str(self.resume_path),
                "history_path": str(self.output_dir / outputs.HISTORY_FILE),
                "retention": {
                    "epoch_checkpoints": self.config.keep_epoch_checkpoints,
                    "best_checkpoints": self.config.keep_best_checkpoints,
                },
                "tensorboard_dir": str(self.output_dir),
                "epochs_completed": self.run.epoch,
                "epochs_this_run": len(timings),
                "mean_epoch_time_s": _mean([t["epoch_time_s"] for t in measured]),
                "mean_images_per_s": _mean([t["images_per_s"] for t in measured]),
                "devices": {
                    "backend": self.parallel.backend,
                    "count": self.parallel.device_count,
                    "hosts": jax.process_count(),
                },
                "parameters": self.parameter_count,
                "dataset": {
                    "source": str(self.dataset.source),
                    "sizes": {k: len(v) for k, v in self.dataset.splits.items()},
                    "skipped_rows": self.dataset.skipped_rows,
                },
            }
        )


def _local_copy(tree: Any) -> Any:
    def local(x: jax.Array) -> Any:
        if ckpt._is_key(x):
            data = np.asarray(jax.random.key_data(x).addressable_data(0))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        return np.asarray(x.addressable_data(0))

    return jax.tree.map(local, tree)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _non_empty(split: SplitData | None) -> SplitData | None:
    return split if split is not None and len(split) > 0 else None


def train(config: TrainConfig, model_factory: ckpt.ModelFactory | None = None) -> dict[str, Any]:
    """Run `hsc-jax train` with these settings; returns what summary.json holds.

    Settings, the resume/overwrite rule and the dataset are all checked before the first step,
    so a bad flag, a missing file or a corrupt image fails fast with a message.
    """
    config.validate()
    maybe_initialize_distributed()
    resume_path = resolve_resume(config)
    with outputs.run_logging(Path(config.output_dir), config.verbose):
        trainer = Trainer(config, model_factory=model_factory)
        trainer.setup(resume_path)
        return trainer.fit()


__all__ = ["Dataset", "ResumeError", "Trainer", "train"]


def _all_grey(images: np.ndarray, sample: int = 2048) -> bool:
    """True when the training images carry no colour (R == G == B), as FERPlus: the model then
    asks inference to feed grey crops, so a colour camera sees what training saw."""
    step = max(1, len(images) // sample)
    picked = images[::step]
    return bool(len(picked)) and bool(
        np.all(picked[..., 0] == picked[..., 1]) and np.all(picked[..., 1] == picked[..., 2])
    )
