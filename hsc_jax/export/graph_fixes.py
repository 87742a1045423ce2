"""Rewrites of what jax2onnx emits: valid at every opset from 17 to 23, and lean to run.

Validity:

* jax2onnx writes `ReduceMean` (and the other reductions) in their opset-18 form, with the axes
  as a second input, even when asked for opset 17, where the axes must be an attribute.
* Its `value_info` can carry wrong (NHWC for NCHW) shapes, which the full checker rejects and
  which mislead the simplifier's shape inference: it is dropped and inferred again.
* onnxsim folds batch norms into the convolutions before them; a batch norm on a 2-D tensor
  (the head's, before the final Linear) stays. It is folded into the following `Gemm` when that
  is its only consumer, else rewritten as `Mul` + `Add`. Inference `Dropout`s are removed first.

Speed (JAX computes NHWC, ONNX convolutions NCHW, so the converter wraps layouts in Transposes;
onnxruntime's transpose optimizer, see `layout`, cancels most of them, these do the rest):
* the last SiLU runs before its Transpose, and reductions read the untransposed tensor;
* ReduceMean/ReduceMax over H, W become global pools (onnxruntime keeps them in its blocked
  convolution layout; reductions force a layout round trip at every squeeze-excite block);
* `logits[:, 0]` (Transpose + Gather) becomes one Reshape.
The result is op for op what a PyTorch export of the same network gives.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

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


def _constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Tensor name -> value, for initializers and `Constant` nodes with a `value` attribute."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def _remove_unused_constants(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    used |= {output.name for output in graph.output}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(nodes)


def reductions_to_axes_attribute(model: onnx.ModelProto) -> onnx.ModelProto:
    """Below opset 18, move constant `axes` inputs of reductions into the `axes` attribute.

    Raises ValueError for axes that are computed at run time (no opset-17 equivalent).
    """
    if default_opset(model) >= 18:
        return model
    graph = model.graph
    constants = _constant_values(graph)
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
    _remove_unused_constants(graph)
    return model


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


def _drop_nodes(graph: onnx.GraphProto, removed: set[int]) -> None:
    """Delete the nodes whose id() is in `removed`, then the constants nothing reads any more."""
    kept_nodes = [n for n in graph.node if id(n) not in removed]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    _remove_unused_constants(graph)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name -> the nodes that read it."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def remove_batch_norms(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every remaining `BatchNormalization` by a fold into the next Gemm, or Mul + Add.

    Needs the batch norm parameters to be constants (true for an exported eval-mode model).
    """
    graph = model.graph
    constants = _constant_values(graph)
    consumers = _consumers(graph)
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
    _remove_unused_constants(graph)
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
    constants = _constant_values(graph)
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
    _remove_unused_constants(graph)
    return model


def strip_unused_opset_imports(model: onnx.ModelProto) -> onnx.ModelProto:
    """Keep only the opset imports of domains that some node uses (plus the default one)."""
    used = {node.domain or "" for node in model.graph.node} | {""}
    kept = [entry for entry in model.opset_import if (entry.domain or "") in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model


def _axes_of(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> list[int] | None:
    for attribute in node.attribute:
        if attribute.name == "axes":
            return list(attribute.ints)
    if len(node.input) > 1 and node.input[1] in constants:
        return [int(a) for a in np.asarray(constants[node.input[1]]).reshape(-1)]
    return None


def _keepdims(node: onnx.NodeProto) -> int:
    return next((int(a.i) for a in node.attribute if a.name == "keepdims"), 1)


def reduce_before_transpose(model: onnx.ModelProto) -> onnx.ModelProto:
    """Transpose -> reductions (keepdims=0) becomes reductions on the untransposed tensor.

    The head's global pooling runs on NHWC in JAX, so the converter transposes the last feature
    map back to NHWC only to reduce it. Reducing axes perm[a] of the original tensor gives the
    same result whenever the surviving axes keep their order (NHWC over H, W -> NCHW over 2, 3).
    """
    graph = model.graph
    constants = _constant_values(graph)
    consumers = _consumers(graph)
    graph_outputs = {output.name for output in graph.output}
    removed = set()
    for node in graph.node:
        if node.op_type != "Transpose" or node.output[0] in graph_outputs:
            continue
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        users = consumers.get(node.output[0], [])
        if perm is None or not users:
            continue
        plans = []
        for user in users:
            axes = _axes_of(user, constants) if user.op_type.startswith("Reduce") else None
            if axes is None or _keepdims(user) != 0 or user.input[0] != node.output[0]:
                break
            axes = [a % len(perm) for a in axes]
            kept = [perm[a] for a in range(len(perm)) if a not in axes]
            if kept != sorted(kept):
                break
            plans.append((user, sorted(perm[a] for a in axes)))
        else:
            for user, new_axes in plans:
                user.input[0] = node.input[0]
                if len(user.input) > 1 and user.input[1]:
                    name = f"{user.name or user.output[0]}_axes"
                    graph.initializer.append(
                        numpy_helper.from_array(np.asarray(new_axes, dtype=np.int64), name)
                    )
                    user.input[1] = name
                else:
                    attributes = [a for a in user.attribute if a.name != "axes"]
                    attributes.append(helper.make_attribute("axes", new_axes))
                    del user.attribute[:]
                    user.attribute.extend(attributes)
            removed.add(id(node))
    _drop_nodes(graph, removed)
    return model


def squeeze_single_logit(model: onnx.ModelProto) -> onnx.ModelProto:
    """`logits[:, 0]` on (B, 1), emitted as Transpose + Gather, becomes one Reshape to (B,)."""
    graph = model.graph
    constants = _constant_values(graph)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        info.name: [
            d.dim_value if d.HasField("dim_value") else None
            for d in info.type.tensor_type.shape.dim
        ]
        for info in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    consumers = _consumers(graph)
    removed = set()
    for node in graph.node:
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        if node.op_type != "Transpose" or perm != [1, 0]:
            continue
        if shapes.get(node.input[0], [None, None])[1:] != [1]:
            continue
        users = consumers.get(node.output[0], [])
        if len(users) != 1 or users[0].op_type != "Gather":
            continue
        gather = users[0]
        axis = next((int(a.i) for a in gather.attribute if a.name == "axis"), 0)
        index = constants.get(gather.input[1])
        if axis != 0 or index is None or index.shape != () or int(index) != 0:
            continue
        shape_name = f"{gather.output[0]}_flat_shape"
        graph.initializer.append(numpy_helper.from_array(np.asarray([-1], np.int64), shape_name))
        reshape = helper.make_node("Reshape", [node.input[0], shape_name], list(gather.output))
        gather.CopyFrom(reshape)
        removed.add(id(node))
    _drop_nodes(graph, removed)
    return model


GLOBAL_POOLS = {"ReduceMean": "GlobalAveragePool", "ReduceMax": "GlobalMaxPool"}


def reductions_to_global_pools(model: onnx.ModelProto) -> onnx.ModelProto:
    """ReduceMean/ReduceMax over H, W of an NCHW tensor -> GlobalAveragePool/GlobalMaxPool.

    Same numbers, but onnxruntime keeps global pools in its blocked (NCHWc) convolution layout,
    while a reduction forces a layout round trip (ReorderOutput/ReorderInput) at every
    squeeze-excite block; PyTorch's exports use the global pools too.
    """
    graph = model.graph
    constants = _constant_values(graph)
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {
        info.name: len(info.type.tensor_type.shape.dim)
        for info in list(inferred.graph.value_info) + list(inferred.graph.input)
        if info.type.tensor_type.HasField("shape")
    }
    new_nodes = []
    for node in graph.node:
        axes = _axes_of(node, constants) if node.op_type in GLOBAL_POOLS else None
        if axes is None or ranks.get(node.input[0]) != 4 or sorted(a % 4 for a in axes) != [2, 3]:
            new_nodes.append(node)
            continue
        pool = GLOBAL_POOLS[node.op_type]
        name = node.name or node.output[0]
        if _keepdims(node):
            new_nodes.append(helper.make_node(pool, [node.input[0]], list(node.output), name=name))
        else:
            pooled = f"{name}_pooled"
            new_nodes.append(helper.make_node(pool, [node.input[0]], [pooled], name=name))
            new_nodes.append(
                helper.make_node(
                    "Flatten", [pooled], list(node.output), name=f"{name}_flat", axis=1
                )
            )
    del graph.node[:]
    graph.node.extend(new_nodes)
    _remove_unused_constants(graph)
    return model


def sink_transpose_below_silu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Transpose -> SiLU (x * Sigmoid(x)) becomes SiLU -> Transpose.

    The last block's SiLU runs in JAX's NHWC before the head pools; moving the Transpose
    below it lets `reduce_before_transpose` pool the NCHW tensor directly.
    """
    graph = model.graph
    graph_outputs = {output.name for output in graph.output}
    consumers = _consumers(graph)
    for transpose in list(graph.node):
        if transpose.op_type != "Transpose" or transpose.output[0] in graph_outputs:
            continue
        t = transpose.output[0]
        users = consumers.get(t, [])
        sigmoid = next((u for u in users if u.op_type == "Sigmoid"), None)
        if sigmoid is None or len(users) != 2:
            continue
        mul = next((u for u in users if u.op_type == "Mul"), None)
        if mul is None or sorted(mul.input) != sorted([t, sigmoid.output[0]]):
            continue
        if consumers.get(sigmoid.output[0], []) != [mul] or sigmoid.output[0] in graph_outputs:
            continue
        source, result = transpose.input[0], mul.output[0]
        silu = f"{result}_before_transpose"
        sigmoid.input[0] = source
        mul.input[:] = [source, sigmoid.output[0]]
        mul.output[0] = silu
        transpose.input[0], transpose.output[0] = silu, result
        # Keep topological order: the Transpose now runs after the Mul.
        graph.node.remove(transpose)
        graph.node.insert(list(graph.node).index(mul) + 1, transpose)
    return model
