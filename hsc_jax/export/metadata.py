"""The preprocessing contract stored in the ONNX metadata (`hsc_contract`)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from typing import Any

import onnx

from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract


def tool_version() -> str:
    try:
        return importlib.metadata.version("hsc-jax")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def export_contract(
    contract: ModelContract | None,
    image_size: tuple[int, int],
    model_config: dict[str, Any] | None = None,
    training_config: dict[str, Any] | None = None,
    threshold: float | None = None,
) -> ModelContract:
    """The contract to embed: `contract` (or the defaults) completed for this export.

    `threshold` overrides the contract's (the checkpoint's F1-optimal one); model and training
    configs fill the contract's only when it has none; the tool version is always this one.
    """
    contract = contract if contract is not None else ModelContract(input_size=tuple(image_size))
    if tuple(contract.input_size) != tuple(image_size):
        raise ValueError(
            f"contract input_size {tuple(contract.input_size)} differs from the export's image "
            f"size {tuple(image_size)} (H, W)"
        )
    updates: dict[str, Any] = {"tool_version": tool_version()}
    if contract.model_config is None and model_config is not None:
        updates["model_config"] = dict(model_config)
    if contract.training_config is None and training_config is not None:
        updates["training_config"] = dict(training_config)
    if threshold is not None:
        updates["threshold"] = float(threshold)
    return dataclasses.replace(contract, **updates)


def set_metadata(model: onnx.ModelProto, key: str, value: str) -> onnx.ModelProto:
    """Set (or replace) one metadata entry of `model`."""
    kept = [p for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value
    return model


def attach_contract(model: onnx.ModelProto, contract: ModelContract) -> onnx.ModelProto:
    """Set (or replace) the `hsc_contract` metadata entry."""
    return set_metadata(model, CONTRACT_METADATA_KEY, contract.to_json())


def read_contract(model: onnx.ModelProto) -> ModelContract | None:
    for entry in model.metadata_props:
        if entry.key == CONTRACT_METADATA_KEY:
            return ModelContract.from_json(entry.value)
    return None
