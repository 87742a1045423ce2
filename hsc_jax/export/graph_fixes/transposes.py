"""Transposes the converter leaves around the head, removed for speed.

JAX computes NHWC, ONNX convolutions NCHW, so the converter wraps layouts in Transposes;
onnxruntime's transpose optimizer (`hsc_jax.export.layout`) cancels most of them, these do the
rest: the last SiLU runs before its Transpose, reductions read the untransposed tensor, and
`logits[:, 0]` (Transpose + Gather) becomes one Reshape.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hsc_jax.export.graph_fixes.onnx_graph import (
    axes_of,
    constant_values,
    consumers_of,
    drop_nodes,
    keepdims,
)


def sink_transpose_below_silu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Transpose -> SiLU (x * Sigmoid(x)) becomes SiLU -> Transpose.

    The last block's SiLU runs in JAX's NHWC before the head pools; moving the Transpose
    below it lets `reduce_before_transpose` pool the NCHW tensor directly.
    """
    graph = model.graph
    graph_outputs = {output.name for output in graph.output}
    consumers = consumers_of(graph)
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


def reduce_before_transpose(model: onnx.ModelProto) -> onnx.ModelProto:
    """Transpose -> reductions (keepdims=0) becomes reductions on the untransposed tensor.

    The head's global pooling runs on NHWC in JAX, so the converter transposes the last feature
    map back to NHWC only to reduce it. Reducing axes perm[a] of the original tensor gives the
    same result whenever the surviving axes keep their order (NHWC over H, W -> NCHW over 2, 3).
    """
    graph = model.graph
    constants = constant_values(graph)
    consumers = consumers_of(graph)
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
            axes = axes_of(user, constants) if user.op_type.startswith("Reduce") else None
            if axes is None or keepdims(user) != 0 or user.input[0] != node.output[0]:
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
    drop_nodes(graph, removed)
    return model


def squeeze_single_logit(model: onnx.ModelProto) -> onnx.ModelProto:
    """`logits[:, 0]` on (B, 1), emitted as Transpose + Gather, becomes one Reshape to (B,)."""
    graph = model.graph
    constants = constant_values(graph)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        info.name: [
            d.dim_value if d.HasField("dim_value") else None
            for d in info.type.tensor_type.shape.dim
        ]
        for info in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    consumers = consumers_of(graph)
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
    drop_nodes(graph, removed)
    return model
