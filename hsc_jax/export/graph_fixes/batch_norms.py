"""Batch norms and dropouts out of the inference graph.

onnxsim folds batch norms into the convolutions before them; a batch norm on a 2-D tensor (the
head's, before the final Linear) stays. It is folded into the following `Gemm` when that is its
only consumer, else rewritten as `Mul` + `Add`. Inference `Dropout`s are removed first.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hsc_jax.export.graph_fixes.onnx_graph import (
    constant_values,
    consumers_of,
    remove_unused_constants,
)


def _bn_parameters(node: onnx.NodeProto, constants: dict[str, np.ndarray]):
    """(scale, shift) of an inference-mode batch norm: y = x * scale + shift per channel."""
    eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    gamma, beta, mean, var = (constants[name].astype(np.float64) for name in node.input[1:5])
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def _gemm_attributes(node: onnx.NodeProto) -> dict[str, float | int]:
    out = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}
    out.update({a.name: helper.get_attribute_value(a) for a in node.attribute})
    return out


def remove_batch_norms(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every remaining `BatchNormalization` by a fold into the next Gemm, or Mul + Add.

    Needs the batch norm parameters to be constants (true for an exported eval-mode model).
    """
    graph = model.graph
    constants = constant_values(graph)
    consumers = consumers_of(graph)
    graph_outputs = {output.name for output in graph.output}
    new_nodes: list[onnx.NodeProto] = []
    new_initializers: list[onnx.TensorProto] = []
    for node in graph.node:
        if node.op_type != "BatchNormalization":
            new_nodes.append(node)
            continue
        if len(node.output) > 1 and any(node.output[1:]):
            raise ValueError(f"batch norm {node.name!r} is in training mode; export in eval mode")
        if not all(name in constants for name in node.input[1:5]):
            raise ValueError(f"batch norm {node.name!r} has non-constant parameters")
        scale, shift = _bn_parameters(node, constants)
        x, y = node.input[0], node.output[0]
        users = consumers.get(y, [])
        gemm = users[0] if len(users) == 1 and users[0].op_type == "Gemm" else None
        if (
            gemm is not None
            and y not in graph_outputs
            and _fold_into_gemm(gemm, scale, shift, constants, new_initializers)
        ):
            gemm.input[0] = x
            continue
        prefix = node.name or y
        rank_hint = _channel_broadcast_rank(model, x)
        shape = (-1,) + (1,) * (rank_hint - 2)
        scale_name, shift_name, mid = f"{prefix}_scale", f"{prefix}_shift", f"{prefix}_scaled"
        new_initializers += [
            numpy_helper.from_array(scale.astype(np.float32).reshape(shape), scale_name),
            numpy_helper.from_array(shift.astype(np.float32).reshape(shape), shift_name),
        ]
        new_nodes += [
            helper.make_node("Mul", [x, scale_name], [mid], name=f"{prefix}_mul"),
            helper.make_node("Add", [mid, shift_name], [y], name=f"{prefix}_add"),
        ]
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_initializers)
    remove_unused_constants(graph)
    return model


def _fold_into_gemm(
    gemm: onnx.NodeProto,
    scale: np.ndarray,
    shift: np.ndarray,
    constants: dict[str, np.ndarray],
    new_initializers: list[onnx.TensorProto],
) -> bool:
    """Gemm(x * s + t, W, c) = x @ (s[:, None] * W) + (t @ W + c): rewrite W and c in place."""
    attributes = _gemm_attributes(gemm)
    if attributes["transA"] or gemm.input[1] not in constants:
        return False
    weight = constants[gemm.input[1]].astype(np.float64)
    if attributes["transB"]:
        weight = weight.T  # (in, out)
    if weight.shape[0] != scale.shape[0]:
        return False
    alpha, beta = float(attributes["alpha"]), float(attributes["beta"])
    has_bias = len(gemm.input) > 2 and bool(gemm.input[2])
    if has_bias and gemm.input[2] not in constants:
        return False
    bias = constants[gemm.input[2]].astype(np.float64) * beta if has_bias else 0.0
    folded_weight = scale[:, None] * weight
    folded_bias = alpha * (shift @ weight) + bias
    if attributes["transB"]:
        folded_weight = folded_weight.T
    prefix = gemm.name or gemm.output[0]
    weight_name, bias_name = f"{prefix}_bn_folded_weight", f"{prefix}_bn_folded_bias"
    new_initializers += [
        numpy_helper.from_array(folded_weight.astype(np.float32), weight_name),
        numpy_helper.from_array(np.asarray(folded_bias, dtype=np.float32).reshape(-1), bias_name),
    ]
    del gemm.input[1:]
    gemm.input.extend([weight_name, bias_name])
    others = [a for a in gemm.attribute if a.name != "beta"]
    del gemm.attribute[:]
    gemm.attribute.extend(others + [helper.make_attribute("beta", 1.0)])
    return True


def _channel_broadcast_rank(model: onnx.ModelProto, name: str) -> int:
    """Rank of tensor `name` from shape inference (2 when unknown: the head's (B, C) case)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input)
    for info in infos:
        if info.name == name and info.type.tensor_type.HasField("shape"):
            return len(info.type.tensor_type.shape.dim)
    return 2


def remove_inference_dropouts(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop `Dropout` nodes, identities at inference (no training-mode input, no mask output).

    They would otherwise sit between the head's batch norm and its Linear and block the fold.
    """
    graph = model.graph
    constants = constant_values(graph)
    graph_outputs = {output.name for output in graph.output}
    rename: dict[str, str] = {}
    kept = []

    def inference_mode(node: onnx.NodeProto) -> bool:
        if len(node.input) < 3 or not node.input[2]:
            return True
        training = constants.get(node.input[2])
        return training is not None and not bool(np.asarray(training).any())

    for node in graph.node:
        is_identity = (
            node.op_type == "Dropout"
            and inference_mode(node)
            and (len(node.output) < 2 or not node.output[1])
            and node.output[0] not in graph_outputs
        )
        if is_identity:
            rename[node.output[0]] = rename.get(node.input[0], node.input[0])
        else:
            kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    remove_unused_constants(graph)
    return model
