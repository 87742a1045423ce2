"""Graphs valid at the requested opset (17 to 23) and for the full checker.

* jax2onnx writes `ReduceMean` (and the other reductions) in their opset-18 form, with the axes
  as a second input, even when asked for opset 17, where the axes must be an attribute.
* Its `value_info` can carry wrong (NHWC for NCHW) shapes, which the full checker rejects and
  which mislead the simplifier's shape inference: it is dropped and inferred again.
* Opset imports of domains no node uses are dropped.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from hsc_jax.export.graph_fixes.onnx_graph import constant_values, remove_unused_constants

# Reductions whose axes moved from an attribute to an input at opset 18 (ReduceSum moved at 13).
AXES_INPUT_SINCE_18 = {
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
}


def default_opset(model: onnx.ModelProto) -> int:
    """The version of the default ("" / ai.onnx) domain the model imports."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise ValueError("model imports no default-domain opset")


def drop_value_info(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove intermediate shape annotations (jax2onnx's are sometimes wrong)."""
    del model.graph.value_info[:]
    return model


def reductions_to_axes_attribute(model: onnx.ModelProto) -> onnx.ModelProto:
    """Below opset 18, move constant `axes` inputs of reductions into the `axes` attribute.

    Raises ValueError for axes that are computed at run time (no opset-17 equivalent).
    """
    if default_opset(model) >= 18:
        return model
    graph = model.graph
    constants = constant_values(graph)
    for node in graph.node:
        if node.op_type not in AXES_INPUT_SINCE_18 or len(node.input) < 2:
            continue
        axes_name = node.input[1]
        if axes_name:
            if axes_name not in constants:
                raise ValueError(
                    f"{node.op_type} node {node.name!r} takes its axes from {axes_name!r}, which "
                    "is not a constant; it cannot be written for opset 17"
                )
            axes = [int(a) for a in np.asarray(constants[axes_name]).reshape(-1)]
            attributes = [a for a in node.attribute if a.name != "axes"]
            # An empty axes list with noop_with_empty_axes=0 means "all axes": omit the attribute.
            if axes:
                attributes.append(helper.make_attribute("axes", axes))
            del node.attribute[:]
            node.attribute.extend(attributes)
        del node.input[1:]
    remove_unused_constants(graph)
    return model


def strip_unused_opset_imports(model: onnx.ModelProto) -> onnx.ModelProto:
    """Keep only the opset imports of domains that some node uses (plus the default one)."""
    used = {node.domain or "" for node in model.graph.node} | {""}
    kept = [entry for entry in model.opset_import if (entry.domain or "") in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model
