"""Reading and editing an ONNX graph in place: constant values, consumers, node removal and
reduction attributes, shared by the graph fixes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Tensor name -> value, for initializers and `Constant` nodes with a `value` attribute."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def remove_unused_constants(graph: onnx.GraphProto) -> None:
    """Drop the initializers and `Constant` nodes that no node or graph output reads."""
    used = {name for node in graph.node for name in node.input}
    used |= {output.name for output in graph.output}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(nodes)


def consumers_of(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name -> the nodes that read it."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def drop_nodes(graph: onnx.GraphProto, removed: set[int]) -> None:
    """Delete the nodes whose id() is in `removed`, then the constants nothing reads any more."""
    kept_nodes = [n for n in graph.node if id(n) not in removed]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    remove_unused_constants(graph)


def axes_of(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> list[int] | None:
    """A reduction's axes, from its attribute or its constant second input (None otherwise)."""
    for attribute in node.attribute:
        if attribute.name == "axes":
            return list(attribute.ints)
    if len(node.input) > 1 and node.input[1] in constants:
        return [int(a) for a in np.asarray(constants[node.input[1]]).reshape(-1)]
    return None


def keepdims(node: onnx.NodeProto) -> int:
    """A reduction's keepdims attribute (1, ONNX's default, when absent)."""
    return next((int(a.i) for a in node.attribute if a.name == "keepdims"), 1)
