"""`train(config) -> summary`: the whole run, from the dataset to the test evaluation.

The loop is plain Python around two jitted functions (step.py); everything random is a function
of (seed, epoch, step) or lives in the checkpointed model state, so `--resume` continues exactly
where an uninterrupted run would be.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hsc_jax.compile_cache import active_cache_dir, compile_ahead, enable_compile_cache
from hsc_jax.data.dataset import SplitData, load_dataset
from hsc_jax.errors import ConfigError, ResumeError
from hsc_jax.metrics import binary_metrics, f1_optimal_threshold
from hsc_jax.train import average, distributed, loops, outputs, report
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train.config import TrainConfig, shared_settings
from hsc_jax.train.contract import training_contract
from hsc_jax.train.mesh import data_parallel
from hsc_jax.train.pipeline import DATA_ORDER_RULE, EpochPlan, plan_epoch
from hsc_jax.train.resume import (
    RunState,
    adopt_checkpoint_settings,
    read_resumable_meta,
    resolve_resume,
)
from hsc_jax.train.schedule import make_schedule, schedule_from_state
from hsc_jax.train.step import (
    InputScaling,
    compute_dtype_for,
    make_eval_step,
    make_optimizer,
    make_train_step,
    resolve_recompute,
)

log = logging.getLogger("hsc_jax.train")


class Trainer:
    """One run: holds the model, the optimiser state, the data and the outputs."""

    def __init__(self, config: TrainConfig, model_factory: ckpt.ModelFactory | None = None):
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.primary = jax.process_index() == 0
        self.model_factory = model_factory or ckpt.default_model_factory()
        self.resume_path: Path | None = None
        self.run = RunState()
        # What compiling each step cost, and where the compiled steps are cached.
        self.compile_s: dict[str, Any] = {}
        self.phase = "set-up"  # what the run is doing, for the message when a peer is lost

    # --- set-up ----------------------------------------------------------------------------

    def setup(self, resume_path: Path | None) -> None:
        self.resume_path = resume_path
        resume_meta = read_resumable_meta(resume_path) if resume_path else None
        if resume_meta is not None:
            self.config = adopt_checkpoint_settings(self.config, resume_meta)
        config = self.config

        self.parallel = data_parallel(config.device)
        self.parallel.check_batch_size(config.batch_size)
        self.compute_dtype = compute_dtype_for(config.use_amp, self.parallel)
        log.info(self.parallel.describe(config.batch_size))
        # Names the temporary folders that all processes write checkpoints into together.
        self.token = distributed.broadcast_token()
        self.phase = "loading the dataset"
        self._load_data()
        distributed.check_agreement(
            {"dataset": self.dataset.content_digest}, "the dataset (split, labels or images)"
        )
        self.model_config = config.model_config()
        model = self.model_factory(
            self.model_config, image_size=config.image_size, seed=config.seed, depthwise="auto"
        )
        optimizer = make_optimizer(model, config.lr, config.weight_decay)
        # The moving average starts as a copy of the initial weights (average.py).
        modules = (
            (model, optimizer, average.start_average(model))
            if config.ema_decay > 0
            else (model, optimizer)
        )
        self.schedule = make_schedule(config.lr_schedule, config.lr, config.epochs)
        if resume_meta is not None:
            self._restore(modules, resume_meta)
        self.contract = training_contract(config, self.model_config, self.train_split.images)
        self._build_steps(modules)
        self.base_key = jax.random.key(config.seed)
        self.scalars = outputs.Scalars(self.output_dir) if self.primary else None
        self.parameter_count = sum(
            int(np.size(x)) for x in jax.tree.leaves(nnx.state(model, nnx.Param))
        )
        log.info(
            "model %s at %dx%d: %d parameters; %s; recomputed in the backward pass: %s",
            json.dumps(self.model_config.to_dict()),
            *config.image_size,
            self.parameter_count,
            "bfloat16 compute" if self.compute_dtype == jnp.bfloat16 else "float32",
            resolve_recompute(config.recompute, self.parallel.backend),
        )
        self._compile_steps()

    def _load_data(self) -> None:
        config = self.config
        self.dataset = load_dataset(config.data_root, config.image_size, config.data_settings())
        if self.dataset.skipped_rows:
            log.warning("--skip_bad_rows: %d bad rows left out", self.dataset.skipped_rows)
        self.train_split = self.dataset.splits["train"]
        self.train_targets = loops.training_targets(self.train_split, config)
        self.val_split = _non_empty(self.dataset.splits.get("val"))
        self.test_split = _non_empty(self.dataset.splits.get("test"))
        if len(self.train_split) < config.batch_size:
            raise ConfigError(
                f"--batch_size {config.batch_size} is larger than the training split "
                f"({len(self.train_split)} examples); lower it"
            )

    def _build_steps(self, modules: tuple[nnx.Module, ...]) -> None:
        """Split (model, optimizer[, average]) into a replicated state and jit the train and
        eval steps."""
        model = modules[0]
        model.train()
        graphdef, state = nnx.split(modules)
        model.eval()
        eval_graphdef = nnx.graphdef(model)
        self.state = self.parallel.put_replicated(state)
        scaling = InputScaling.from_contract(self.contract)
        self.train_step = make_train_step(
            graphdef,
            scaling,
            self.parallel,
            self.compute_dtype,
            self.config.augment,
            self.config.mixup,
            self.config.ema_decay,
            self.config.recompute,
            self.config.wild_share,
        )
        self.eval_step = make_eval_step(eval_graphdef, scaling, self.parallel)

    def _compile_steps(self) -> None:
        """Compile the train step, and the eval step when a split needs it, before the first
        batch and time each, so that start-up cost shows apart from training (and a persistent
        cache hit shows as a drop). The arguments have the avals and shardings of the real
        calls, so the first step runs the executable compiled here."""
        self.phase = "compiling the steps"
        rows = self.parallel.local_slice(self.config.batch_size)
        local = rows.stop - rows.start
        images = self.parallel.put_batch(np.zeros((local, *self.dataset.image_size, 3), np.uint8))
        labels = self.parallel.put_batch(np.zeros((local,), self.train_targets.dtype))
        # lr and pos_weight are Python floats in the loop too (weakly typed scalars).
        train = compile_ahead(
            self.train_step, self.state, images, labels, self.base_key, self.schedule.lr, 1.0
        )
        evaluate = None
        if self.val_split is not None or self.test_split is not None:
            evaluate = compile_ahead(self.eval_step, self.state[0], images)
        self.compile_s = report.compile_summary(train, evaluate, active_cache_dir())
        log.info(report.compile_line(self.compile_s))

    def _restore(self, modules: tuple[nnx.Module, ...], meta: dict[str, Any]) -> None:
        assert self.resume_path is not None
        replicated = self.parallel.replicated
        folders = (ckpt.MODEL_DIR, ckpt.OPTIMIZER_DIR, ckpt.AVERAGE_DIR)
        for module, folder in zip(modules, folders, strict=False):
            saved = ckpt.restore_into(self.resume_path / folder, nnx.state(module), replicated)
            nnx.update(module, saved)
        self.schedule = schedule_from_state(meta["schedule"], self.config.epochs)
        self.run = RunState.from_meta(meta)
        if self.primary:
            for path in ckpt.remove_later_best(self.output_dir, self.run.epoch):
                log.warning("removed %s: it comes after the resumed epoch", path.name)
        log.info(
            "resumed from %s (epoch %d, lr %.3g)",
            self.resume_path,
            self.run.epoch,
            self.schedule.lr,
        )

    # --- one epoch -------------------------------------------------------------------------

    def train_epoch(self, plan: EpochPlan) -> dict[str, Any]:
        epoch_key = jax.random.fold_in(self.base_key, plan.epoch)
        self.state, trained = loops.train_epoch(
            self.train_step,
            self.state,
            self.train_split,
            self.train_targets,
            plan,
            self.parallel,
            epoch_key,
            self.schedule.lr,
            self.config,
        )
        self.run.global_step += plan.steps
        return trained

    def evaluate_split(
        self, split: SplitData, name: str, model_state: Any, pos_weight: float
    ) -> dict[str, Any]:
        self.phase = f"evaluating {name}"
        return loops.evaluate_split(
            self.eval_step, model_state, split, name, self.parallel, self.config, pos_weight
        )

    # --- checkpoints -----------------------------------------------------------------------

    def _meta(
        self, epoch: int, metrics: dict[str, Any], threshold: dict[str, Any], weights: str
    ) -> dict:
        contract = self.contract.with_threshold(threshold["threshold"])
        return outputs.json_safe(
            {
                "kind": "epoch",
                "epoch": epoch,
                "global_step": self.run.global_step,
                "seed": self.config.seed,
                "data_order": {"rule": DATA_ORDER_RULE, "next_epoch": epoch + 1},
                "schedule": self.schedule.state_dict(),
                "metrics": metrics,
                "val_threshold": threshold,
                "weights": weights,
                "best": self.run.best_record(),
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
        """Every process takes part in Orbax's save of the replicated state (one copy on disk,
        restorable onto any device count); process 0 alone copies and prunes."""
        self.phase = f"writing the checkpoint of epoch {epoch}"
        path = ckpt.write_checkpoint(
            self.output_dir / ckpt.epoch_checkpoint_name(epoch),
            self.state[0],
            self.state[1],
            meta,
            token=self.token,
            average_state=self.state[2] if self.averaging else None,
        )
        if self.primary:
            ckpt.prune_checkpoints(self.output_dir, "epoch", self.config.keep_epoch_checkpoints)
            if improved:
                ckpt.copy_as_best(path, self.output_dir / Path(self.run.best_path).name)
                ckpt.prune_checkpoints(self.output_dir, "best", self.config.keep_best_checkpoints)
        distributed.barrier(f"checkpoints of epoch {epoch}")

    # --- the run ---------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        if self.primary:
            for path in ckpt.remove_stale_temporaries(self.output_dir):
                log.warning("removed %s, left by an interrupted write", path.name)
            outputs.write_json(self.output_dir / outputs.HISTORY_FILE, self.run.history)
        distributed.barrier("run folder ready")
        timings = [
            self.fit_epoch(epoch) for epoch in range(self.run.epoch + 1, self.config.epochs + 1)
        ]
        return self.finish(timings)

    def fit_epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch, validate, checkpoint, write its outputs; returns its timing."""
        config = self.config
        plan = self._plan(epoch)
        lr = self.schedule.lr
        self.phase = f"epoch {epoch}"
        trained = self.train_epoch(plan)
        train_metrics = trained["metrics"]
        val = averaged = None
        # Without a validation split to choose by, the checkpoint exports the average.
        weights = ckpt.AVERAGE_DIR if self.averaging else ckpt.MODEL_DIR
        val_threshold = {"threshold": 0.5, "f1": None, "split": None}
        if self.val_split is not None:
            val = self.evaluate_split(self.val_split, "val", self.state[0], plan.pos_weight)
            if self.averaging:
                averaged = self.evaluate_split(
                    self.val_split, "val (average)", self.state[2], plan.pos_weight
                )
                better = averaged["metrics"]["f1"] > val["metrics"]["f1"]
                weights = ckpt.AVERAGE_DIR if better else ckpt.MODEL_DIR
        # The validation of the weights the checkpoint exports picks the best epoch and the
        # threshold; the schedule follows the trained weights alone, so that the average
        # never changes the run it is taken from.
        chosen = averaged if weights == ckpt.AVERAGE_DIR else val
        if chosen is not None:
            threshold, f1_at = f1_optimal_threshold(self.val_split.labels, chosen["probs"])
            val_threshold = {"threshold": threshold, "f1": f1_at, "split": "val"}
        val_metrics = None if chosen is None else chosen["metrics"]
        headline = val_metrics or train_metrics
        improved = self.run.consider_best(epoch, headline["f1"], self.output_dir)
        reduced = self.schedule.step((val or trained)["metrics"]["loss"])
        timing = trained["timing"]
        self.run.epoch = epoch
        entry = report.history_entry(epoch, train_metrics, val_metrics, lr, timing)
        if self.averaging:
            decay = float(average.decay_at(config.ema_decay, self.run.global_step))
            entry.update(
                report.average_entry(_metrics_of(val), _metrics_of(averaged), weights, decay)
            )
        self.run.history.append(entry)
        metrics = {"train": train_metrics, "val": val_metrics}
        meta = self._meta(epoch, metrics, val_threshold, weights)
        self.save_checkpoints(epoch, meta, improved)
        if self.primary:
            self._epoch_outputs(epoch, trained, chosen, lr)
        next_lr = self.schedule.lr if reduced else None
        log.info(
            report.epoch_line(
                epoch, config.epochs, train_metrics, val_metrics, lr, timing, improved, next_lr
            )
            + report.average_note(entry)
        )
        return timing

    @property
    def averaging(self) -> bool:
        """Whether the state holds a moving average of the weights (--ema_decay)."""
        return self.config.ema_decay > 0

    def _plan(self, epoch: int, max_steps: int | None = None) -> EpochPlan:
        config = self.config
        return plan_epoch(
            self.train_split.labels,
            config.train_resampling,
            config.seed,
            epoch,
            config.batch_size,
            max_steps if max_steps is not None else config.max_steps_per_epoch,
        )

    def _epoch_outputs(self, epoch: int, trained: dict, val: dict | None, lr: float) -> None:
        outputs.write_json(self.output_dir / outputs.HISTORY_FILE, self.run.history)
        assert self.scalars is not None
        self.scalars.epoch(epoch, lr, trained["metrics"], None if val is None else val["metrics"])
        outputs.save_diagnostics(
            self.output_dir, "train", epoch, trained["labels"], outputs.sigmoid(trained["logits"])
        )
        if val is not None:
            outputs.save_diagnostics(
                self.output_dir, "val", epoch, self.val_split.labels, val["probs"]
            )

    def finish(self, timings: list[dict[str, Any]]) -> dict[str, Any]:
        """Evaluate the best checkpoint on the test split and write summary.json."""
        best_path = Path(self.run.best_path) if self.run.best_path else None
        best_meta = None
        if best_path is not None and ckpt.is_complete(best_path):
            best_meta = ckpt.read_meta(best_path)
        test_metrics = None
        if self.test_split is not None:
            test_metrics = self._test(best_path if best_meta is not None else None, best_meta)
        summary = report.run_summary(self, best_meta, test_metrics, timings)
        if self.primary:
            outputs.write_json(self.output_dir / outputs.SUMMARY_FILE, summary)
            assert self.scalars is not None
            self.scalars.close()
        return summary

    def _test(self, best_path: Path | None, best_meta: dict | None) -> dict[str, Any]:
        """Test metrics of the best checkpoint (the current state without one), at 0.5 and at
        the best checkpoint's validation threshold; writes test_predictions.csv."""
        assert self.test_split is not None
        model_state = self.state[0]
        if best_path is not None:
            model_state = ckpt.restore_into(
                ckpt.weights_dir(best_path, best_meta or {}),
                self.state[0],
                self.parallel.replicated,
            )
        # The loss weighs classes as training did in its last epoch.
        pos_weight = self._plan(max(self.run.epoch, 1), 1).pos_weight if self.run.history else 1.0
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
        return test_metrics


def _metrics_of(result: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if result is None else result["metrics"]


def _non_empty(split: SplitData | None) -> SplitData | None:
    return split if split is not None and len(split) > 0 else None


def train(config: TrainConfig, model_factory: ckpt.ModelFactory | None = None) -> dict[str, Any]:
    """Run `hsc-jax train` with these settings; returns what summary.json holds.

    Settings, the resume/overwrite rule and the dataset are all checked before the first step,
    so a bad flag, a missing file or a corrupt image fails fast with a message. A multi-process
    run is joined first (`distributed.py`); its processes must agree on the settings and the
    data, and a lost process stops the others with a `PeerLostError`.
    """
    config.validate()
    plan = distributed.plan_join(
        config.coordinator_address, config.num_processes, config.process_id
    )
    process = plan.process_id if plan.multi_process else None
    with outputs.run_logging(Path(config.output_dir), config.verbose, process):
        if config.compile_cache:
            enable_compile_cache()
        distributed.join(plan, config.join_timeout, config.peer_timeout)
        trainer = Trainer(config, model_factory=model_factory)
        try:
            resume_path = resolve_resume(config)
            distributed.check_agreement(shared_settings(config, resume_path), "the settings")
            trainer.setup(resume_path)
            return trainer.fit()
        except Exception as e:
            if not distributed.is_lost_peer(e):
                raise
            error = distributed.lost_peer_error(e, trainer.phase)
            log.error("%s", error)
            raise error from e


__all__ = ["ResumeError", "RunState", "Trainer", "train"]
