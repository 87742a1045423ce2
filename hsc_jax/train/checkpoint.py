"""Checkpoints: Orbax arrays plus a JSON sidecar, written atomically, found and restored.

Layout of one checkpoint folder:

    hsc_epoch_0004/
      model/       Orbax: the model's nnx state (parameters, batch statistics, dropout RNG)
      optimizer/   Orbax: the optimiser state (absent for a model-only checkpoint)
      average/     Orbax: the moving average of the model state (only under --ema_decay)
      meta.json    epoch, schedule, metrics, configs, preprocessing contract, label map,
                   and which of model/ and average/ is the model to use ("weights")
      COMPLETE     written last; a folder without it is never loaded

Everything is written through `hsc_jax.atomic` (a temporary folder renamed into place), so a
crash mid-write leaves a temporary folder, never a checkpoint that looks complete.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx

from hsc_infer.contract import ModelContract
from hsc_infer.labels import CLASS_NAMES
from hsc_jax import atomic
from hsc_jax.devices import default_device
from hsc_jax.errors import CheckpointError
from hsc_jax.train.distributed import barrier

log = logging.getLogger("hsc_jax.train")

FORMAT_VERSION = 1
COMPLETE_MARKER = "COMPLETE"
META_FILE = "meta.json"
MODEL_DIR = "model"
OPTIMIZER_DIR = "optimizer"
AVERAGE_DIR = "average"
EPOCH_PATTERN = re.compile(r"^hsc_epoch_(\d{4,})$")
BEST_PATTERN = re.compile(r"^hsc_best_epoch(\d{4,})_f1_(\d+\.\d+)$")
LABEL_MAP = {str(class_id): name for class_id, name in enumerate(CLASS_NAMES)}


def tool_version() -> str:
    """The installed hsc-jax version, recorded in checkpoints and contracts."""
    try:
        return importlib.metadata.version("hsc-jax")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def epoch_checkpoint_name(epoch: int) -> str:
    return f"hsc_epoch_{epoch:04d}"


def best_checkpoint_name(epoch: int, score: float) -> str:
    return f"hsc_best_epoch{epoch:04d}_f1_{score:.4f}"


def is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file() and (path / META_FILE).is_file()


def epoch_of(path: Path) -> int | None:
    """The epoch in a checkpoint folder's name, None for other names."""
    match = EPOCH_PATTERN.match(path.name) or BEST_PATTERN.match(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(output_dir: Path, kind: str = "epoch") -> list[Path]:
    """Complete checkpoints of one kind ("epoch" or "best"), oldest epoch first."""
    pattern = EPOCH_PATTERN if kind == "epoch" else BEST_PATTERN
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if pattern.match(p.name) and is_complete(p)]
    return sorted(found, key=lambda p: (epoch_of(p), p.name))


def existing_checkpoint_folders(output_dir: Path) -> list[Path]:
    """Every checkpoint-looking folder, complete or not (what a fresh run must not overwrite)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    names = (EPOCH_PATTERN, BEST_PATTERN)
    return sorted(p for p in output_dir.iterdir() if any(n.match(p.name) for n in names))


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete epoch checkpoint (what `--resume auto` continues from)."""
    found = list_checkpoints(output_dir, "epoch")
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder (-> its newest best checkpoint, else newest epoch)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if is_complete(path):
        return path
    if (path / META_FILE).exists() or (path / MODEL_DIR).exists():
        raise CheckpointError(
            f"checkpoint {path} is incomplete (no {COMPLETE_MARKER} marker): its write was "
            "interrupted; use an earlier checkpoint"
        )
    best = list_checkpoints(path, "best")
    if best:
        return best[-1]
    latest = latest_checkpoint(path)
    if latest is not None:
        return latest
    raise CheckpointError(f"{path} is neither a complete checkpoint nor a run folder holding one")


# --- pytrees <-> Orbax ---------------------------------------------------------------------


def is_prng_key(x: Any) -> bool:
    """True for a typed PRNG key array (saved as its raw uint32 data)."""
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_impl(x: Any) -> Any:
    """The PRNG implementation of a typed key, concrete or abstract (models may use "rbg")."""
    if isinstance(x, jax.ShapeDtypeStruct):
        return x.dtype._impl  # the key dtype carries its implementation
    return jax.random.key_impl(x)


def to_saveable(state: nnx.State) -> dict:
    """nnx state -> pure dict of arrays; typed RNG keys become their raw uint32 data."""
    pure = nnx.to_pure_dict(state)
    return jax.tree.map(lambda x: jax.random.key_data(x) if is_prng_key(x) else x, pure)


def _restore_target(template: nnx.State, sharding: jax.sharding.Sharding) -> dict:
    pure = nnx.to_pure_dict(template)

    def abstract(x: Any) -> jax.ShapeDtypeStruct:
        if is_prng_key(x):
            data = jax.eval_shape(jax.random.key_data, x)
            return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=sharding)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    return jax.tree.map(abstract, pure)


def restore_into(
    directory: Path, template: nnx.State, sharding: jax.sharding.Sharding
) -> nnx.State:
    """Restore an Orbax tree into the structure of `template` (concrete or abstract state)."""
    target = _restore_target(template, sharding)
    try:
        restored = ocp.StandardCheckpointer().restore(directory.absolute(), target=target)
    except Exception as e:  # Orbax raises many types for a tree that does not match
        # Orbax's messages can run over many lines (a pytree diff): the first says what failed.
        first_line = next((line for line in str(e).splitlines() if line.strip()), repr(e))
        raise CheckpointError(
            f"cannot restore {directory}: its files are damaged or do not match this "
            f"model/optimizer ({first_line})"
        ) from e
    template_pure = nnx.to_pure_dict(template)
    restored = jax.tree.map(
        lambda t, r: jax.random.wrap_key_data(r, impl=_key_impl(t)) if is_prng_key(t) else r,
        template_pure,
        restored,
    )
    state = jax.tree.map(lambda x: x, template)  # a copy whose leaves get replaced
    nnx.replace_by_pure_dict(state, restored)
    return state


def _meta_json(meta: dict[str, Any]) -> str:
    return json.dumps({"format": FORMAT_VERSION, **meta}, indent=2, sort_keys=True)


def write_checkpoint(
    path: Path,
    model_state: nnx.State,
    optimizer_state: nnx.State | None,
    meta: dict[str, Any],
    token: int | None = None,
    average_state: nnx.State | None = None,
) -> Path:
    """Write atomically: arrays and meta into a temporary folder, COMPLETE last, then rename
    (over an existing one only when the same epoch is re-run after a resume).

    In a multi-process run every process calls this with the same `token` (see
    `distributed.broadcast_token`): Orbax saves the global arrays together, one copy on disk,
    and process 0 alone creates the folder, writes the sidecar and renames it into place.
    """
    path = Path(path)
    primary = jax.process_index() == 0
    temporary = atomic.temporary_sibling(path, token)
    if primary:
        atomic.remove(temporary)
        temporary.mkdir(parents=True)
    barrier(f"checkpoint {path.name}: folder")
    try:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save((temporary / MODEL_DIR).absolute(), to_saveable(model_state))
        if optimizer_state is not None:
            checkpointer.save((temporary / OPTIMIZER_DIR).absolute(), to_saveable(optimizer_state))
        if average_state is not None:
            checkpointer.save((temporary / AVERAGE_DIR).absolute(), to_saveable(average_state))
        checkpointer.wait_until_finished()
        barrier(f"checkpoint {path.name}: arrays")
        if primary:
            atomic.write_text(temporary / META_FILE, _meta_json(meta))
            atomic.write_text(temporary / COMPLETE_MARKER, "ok\n")
            atomic.replace(temporary, path)
    finally:
        if primary:
            atomic.remove(temporary)
    barrier(f"checkpoint {path.name}: done")
    return path


def copy_as_best(epoch_checkpoint: Path, best: Path) -> Path:
    """Copy a complete epoch checkpoint to `best`, marked as a best checkpoint, atomically."""
    meta = read_meta(epoch_checkpoint)
    with atomic.atomic_path(best) as tmp:
        shutil.copytree(epoch_checkpoint, tmp)
        atomic.write_text(tmp / META_FILE, _meta_json({**meta, "kind": "best"}))
    return best


def remove_later_best(output_dir: Path, epoch: int) -> list[Path]:
    """Delete best checkpoints of epochs after `epoch`: they describe a history being replaced
    by a resumed run."""
    doomed = [p for p in list_checkpoints(output_dir, "best") if (epoch_of(p) or 0) > epoch]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def prune_checkpoints(output_dir: Path, kind: str, keep: int) -> list[Path]:
    """Delete all but the latest `keep` complete checkpoints of a kind; returns the deleted."""
    found = list_checkpoints(output_dir, kind)
    doomed = found[:-keep] if keep > 0 else found
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


remove_stale_temporaries = atomic.remove_stale_temporaries


def read_meta(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not is_complete(path):
        raise CheckpointError(
            f"checkpoint {path} is incomplete (no {COMPLETE_MARKER} marker): never loaded"
        )
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(
            f"{path / META_FILE} is not valid JSON ({e}): a damaged checkpoint"
        ) from e
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{path / META_FILE} does not hold a JSON object: a damaged checkpoint"
        )
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {meta.get('format')!r}; this version reads "
            f"{FORMAT_VERSION}"
        )
    return meta


# --- loading for export, evaluation and prediction -----------------------------------------


def weights_dir(path: Path, meta: dict[str, Any]) -> Path:
    """The folder holding the weights to evaluate and export: model/, or average/ when the
    moving average validated better at that epoch."""
    name = meta.get("weights", MODEL_DIR)
    if name not in (MODEL_DIR, AVERAGE_DIR):
        raise CheckpointError(
            f"{path / META_FILE} names weights {name!r}; expected {MODEL_DIR!r} or "
            f"{AVERAGE_DIR!r}: a damaged checkpoint"
        )
    if not (path / name).is_dir():
        raise CheckpointError(f"checkpoint {path} has no {name}/ folder: a damaged checkpoint")
    return path / name


ModelFactory = Callable[..., nnx.Module]


@dataclass
class LoadedCheckpoint:
    """A model ready for inference and what it was trained with."""

    path: Path
    model: nnx.Module  # eval mode
    model_config: Any  # hsc_jax.models.ModelConfig
    image_size: tuple[int, int]
    contract: ModelContract  # threshold = F1-optimal on the validation split when known
    train_config: dict[str, Any] | None
    metrics: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def default_model_factory() -> ModelFactory:
    """`hsc_jax.models.create_model`, imported late so checkpoints load without the zoo."""
    from hsc_jax.models import create_model

    return create_model


def load_checkpoint(
    path: str | Path, depthwise: str = "auto", model_factory: ModelFactory | None = None
) -> LoadedCheckpoint:
    """Restore the model of a checkpoint (or of a run folder's newest best checkpoint) into an
    abstract model (`nnx.eval_shape`), then fill it; the model comes back in eval mode."""
    from hsc_jax.models import ModelConfig

    path = resolve_checkpoint(path)
    meta = read_meta(path)
    factory = model_factory or default_model_factory()
    try:
        model_config = ModelConfig.from_dict(meta["model_config"])
        image_size = tuple(int(v) for v in meta["image_size"])
        contract = ModelContract.from_dict(meta["contract"])
    except (KeyError, TypeError, ValueError) as e:
        # A meta.json from another version: missing keys or model settings this one lacks.
        raise CheckpointError(f"{path / META_FILE} does not describe a model: {e!r}") from e
    abstract = nnx.eval_shape(
        lambda: factory(model_config, image_size=image_size, seed=0, depthwise=depthwise)
    )
    graphdef, template = nnx.split(abstract)
    sharding = jax.sharding.SingleDeviceSharding(default_device())
    state = restore_into(weights_dir(path, meta), template, sharding)
    model = nnx.merge(graphdef, state)
    model.eval()
    return LoadedCheckpoint(
        path=path,
        model=model,
        model_config=model_config,
        image_size=image_size,  # type: ignore[arg-type]
        contract=contract,
        train_config=meta.get("train_config"),
        metrics=meta.get("metrics") or {},
        meta=meta,
    )


def save_model_checkpoint(
    path: str | Path,
    model: nnx.Module,
    model_config: Any,
    image_size: tuple[int, int],
    contract: ModelContract | None = None,
    train_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A checkpoint of a model alone (no optimiser or schedule): what `convert-torch` writes.

    It loads with `load_checkpoint` and exports like a trained one; it cannot be resumed.
    """
    contract = contract or ModelContract(
        input_size=tuple(image_size),
        model_config=model_config.to_dict(),
        training_config=train_config,
        tool_version=tool_version(),
    )
    meta = {
        "kind": "model",
        "epoch": None,
        "model_config": model_config.to_dict(),
        "train_config": train_config,
        "image_size": list(image_size),
        "contract": json.loads(contract.to_json()),
        "label_map": LABEL_MAP,
        "metrics": metrics or {},
        "tool_version": tool_version(),
        **(extra or {}),
    }
    return write_checkpoint(Path(path), nnx.state(model), None, meta)
