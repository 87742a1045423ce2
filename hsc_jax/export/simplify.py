"""Graph simplification with onnxsim, kept within the requested opset.

onnxsim can fuse attention into the opset-23 `Attention` op (and, in principle, other
newer fused ops); a model that asked for an older opset must not receive them, so a simplified
graph that uses an op newer than the model's opset is rejected and the unsimplified one kept.
"""

from __future__ import annotations

import logging
import warnings

import onnx
from onnx import defs

from hsc_jax.export.graph_fixes.validity import default_opset

logger = logging.getLogger(__name__)


class SimplifyWarning(UserWarning):
    """The simplifier failed or produced an unusable graph; the unsimplified model is kept."""


def ops_newer_than_opset(model: onnx.ModelProto) -> list[str]:
    """Default-domain ops of `model` that have no schema at or below the model's opset."""
    opset = default_opset(model)
    newer = set()
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        try:
            defs.get_schema(node.op_type, opset, "")
        except defs.SchemaError:
            newer.add(node.op_type)
    return sorted(newer)


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxsim's simplified model, or `model` unchanged (with a warning) when that fails."""
    try:
        import onnxsim
    except ImportError:
        warnings.warn(
            "onnxsim is not installed; the graph is left unsimplified",
            SimplifyWarning,
            stacklevel=2,
        )
        return model
    opset = default_opset(model)
    try:
        simplified, ok = onnxsim.simplify(model, target_opset_version=opset)
    except Exception as e:  # onnxsim raises many kinds of errors on graphs it cannot handle
        warnings.warn(
            f"onnxsim failed ({type(e).__name__}: {e}); keeping the unsimplified graph",
            SimplifyWarning,
            stacklevel=2,
        )
        return model
    if not ok:
        warnings.warn(
            "onnxsim's simplified graph failed its own check; keeping the unsimplified graph",
            SimplifyWarning,
            stacklevel=2,
        )
        return model
    newer = ops_newer_than_opset(simplified)
    if newer:
        warnings.warn(
            f"onnxsim introduced ops newer than opset {opset} ({', '.join(newer)}); "
            "keeping the unsimplified graph",
            SimplifyWarning,
            stacklevel=2,
        )
        return model
    return simplified
