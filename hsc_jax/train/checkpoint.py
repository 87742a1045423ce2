"""Checkpoints: Orbax arrays plus a JSON sidecar, written atomically, found and restored.

Layout of one checkpoint folder:

    hsc_epoch_0004/
      model/       Orbax: the model's nnx state (parameters, batch statistics, dropout RNG)
      optimizer/   Orbax: the optimiser state (absent for a model-only checkpoint)
      meta.json    epoch, schedule, metrics, configs, preprocessing contract, label map, ...
      COMPLETE     written last; a folder without it is never loaded

Everything is written into `<name>.tmp-<pid>` and renamed into place, so a crash mid-write
leaves a temporary folder, never a checkpoint that looks complete.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
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

log = logging.getLogger("hsc_jax.train")

FORMAT_VERSION = 1
COMPLETE_MARKER = "COMPLETE"
META_FILE = "meta.json"
MODEL_DIR = "model"
OPTIMIZER_DIR = "optimizer"
EPOCH_PATTERN = re.compile(r"^hsc_epoch_(\d{4,})$")
BEST_PATTERN = re.compile(r"^hsc_best_epoch(\d{4,})_f1_(\d+\.\d+)$")
LABEL_MAP = {"0": "no_smiling", "1": "smiling"}


def tool_version() -> str:
    """The installed hsc-jax version, recorded in checkpoints and contracts."""
    try:
        return importlib.metadata.version("hsc-jax")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, incomplete or from another format."""


def epoch_checkpoint_name(epoch: int) -> str:
    return f"hsc_epoch_{epoch:04d}"


def best_checkpoint_name(epoch: int, score: float) -> str:
    return f"hsc_best_epoch{epoch:04d}_f1_{score:.4f}"


def is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file() and (path / META_FILE).is_file()


def _epoch_of(path: Path) -> int | None:
    match = EPOCH_PATTERN.match(path.name) or BEST_PATTERN.match(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(output_dir: Path, kind: str = "epoch") -> list[Path]:
    """Complete checkpoints of one kind ("epoch" or "best"), oldest epoch first."""
    pattern = EPOCH_PATTERN if kind == "epoch" else BEST_PATTERN
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [p for p in output_dir.iterdir() if pattern.match(p.name) and is_complete(p)]
    return sorted(found, key=lambda p: (_epoch_of(p), p.name))


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


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_impl(x: Any) -> Any:
    """The PRNG implementation of a typed key, concrete or abstract (models may use "rbg")."""
    if isinstance(x, jax.ShapeDtypeStruct):
        return x.dtype._impl  # the key dtype carries its implementation
    return jax.random.key_impl(x)


def to_saveable(state: nnx.State) -> dict:
    """nnx state -> pure dict of arrays; typed RNG keys become their raw uint32 data."""
    pure = nnx.to_pure_dict(state)
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, pure)


def _restore_target(template: nnx.State, sharding: jax.sharding.Sharding) -> dict:
    pure = nnx.to_pure_dict(template)

    def abstract(x: Any) -> jax.ShapeDtypeStruct:
        if _is_key(x):
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
        raise CheckpointError(
            f"cannot restore {directory}: it does not match this model/optimizer ({e})"
        ) from e
    template_pure = nnx.to_pure_dict(template)
    restored = jax.tree.map(
        lambda t, r: jax.random.wrap_key_data(r, impl=_key_impl(t)) if _is_key(t) else r,
        template_pure,
        restored,
    )
    state = jax.tree.map(lambda x: x, template)  # a copy whose leaves get replaced
    nnx.replace_by_pure_dict(state, restored)
    return state


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def write_checkpoint(
    path: Path, model_state: nnx.State, optimizer_state: nnx.State | None, meta: dict[str, Any]
) -> Path:
    """Write atomically: arrays and meta into a temporary folder, COMPLETE last, then rename."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save((tmp / MODEL_DIR).absolute(), to_saveable(model_state))
    if optimizer_state is not None:
        checkpointer.save((tmp / OPTIMIZER_DIR).absolute(), to_saveable(optimizer_state))
    checkpointer.wait_until_finished()
    _write_json(tmp / META_FILE, {"format": FORMAT_VERSION, **meta})
    (tmp / COMPLETE_MARKER).write_text("ok\n")
    if path.exists():
        # Only the same epoch re-run after a resume lands here; swap, then drop the old one.
        old = path.with_name(f"{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path


def prune_checkpoints(output_dir: Path, kind: str, keep: int) -> list[Path]:
    """Delete all but the latest `keep` complete checkpoints of a kind; returns the deleted."""
    found = list_checkpoints(output_dir, kind)
    doomed = found[:-keep] if keep > 0 else found
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def remove_stale_temporaries(output_dir: Path) -> list[Path]:
    """Temporary folders left by a killed writer (never loaded; removed before new writes)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    stale = [p for p in output_dir.iterdir() if re.search(r"\.(tmp|old)-\d+$", p.name)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def read_meta(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not is_complete(path):
        raise CheckpointError(
            f"checkpoint {path} is incomplete (no {COMPLETE_MARKER} marker): never loaded"
        )
    meta = json.loads((path / META_FILE).read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {meta.get('format')!r}; this version reads "
            f"{FORMAT_VERSION}"
        )
    return meta


# --- loading for export, evaluation and prediction -----------------------------------------


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


def _default_factory() -> ModelFactory:
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
    factory = model_factory or _default_factory()
    model_config = ModelConfig.from_dict(meta["model_config"])
    image_size = tuple(int(v) for v in meta["image_size"])
    abstract = nnx.eval_shape(
        lambda: factory(model_config, image_size=image_size, seed=0, depthwise=depthwise)
    )
    graphdef, template = nnx.split(abstract)
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    state = restore_into(path / MODEL_DIR, template, sharding)
    model = nnx.merge(graphdef, state)
    model.eval()
    return LoadedCheckpoint(
        path=path,
        model=model,
        model_config=model_config,
        image_size=image_size,  # type: ignore[arg-type]
        contract=ModelContract.from_dict(meta["contract"]),
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
