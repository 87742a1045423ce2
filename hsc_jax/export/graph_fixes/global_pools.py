"""Reductions over H, W as global pools: the same numbers, faster in onnxruntime."""

from __future__ import annotations

import onnx
from onnx import helper

from hsc_jax.export.graph_fixes.onnx_graph import (
    axes_of,
    constant_values,
    keepdims,
    remove_unused_constants,
)

GLOBAL_POOLS = {"ReduceMean": "GlobalAveragePool", "ReduceMax": "GlobalMaxPool"}


def reductions_to_global_pools(model: onnx.ModelProto) -> onnx.ModelProto:
    """ReduceMean/ReduceMax over H, W of an NCHW tensor -> GlobalAveragePool/GlobalMaxPool.

    Same numbers, but onnxruntime keeps global pools in its blocked (NCHWc) convolution layout,
    while a reduction forces a layout round trip (ReorderOutput/ReorderInput) at every
    squeeze-excite block; PyTorch's exports use the global pools too.
    """
    graph = model.graph
    constants = constant_values(graph)
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {
        info.name: len(info.type.tensor_type.shape.dim)
        for info in list(inferred.graph.value_info) + list(inferred.graph.input)
        if info.type.tensor_type.HasField("shape")
    }
    new_nodes = []
    for node in graph.node:
        axes = axes_of(node, constants) if node.op_type in GLOBAL_POOLS else None
        if axes is None or ranks.get(node.input[0]) != 4 or sorted(a % 4 for a in axes) != [2, 3]:
            new_nodes.append(node)
            continue
        pool = GLOBAL_POOLS[node.op_type]
        name = node.name or node.output[0]
        if keepdims(node):
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
    remove_unused_constants(graph)
    return model
