"""`export_onnx`: an HSC model -> a verified, simplified ONNX file with its contract.

Steps: jax2onnx on an eval-mode copy with plain convolutions -> opset/value_info fixes ->
onnxsim -> batch norms removed -> Transpose clean-up and global pools (`graph_fixes`, `layout`)
-> full check -> contract metadata -> onnxruntime vs JAX parity -> written to a temporary file
and renamed, so a failed export leaves no output behind.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from pathlib import Path
from typing import Any

import onnx
from flax import nnx

from hsc_infer.contract import ModelContract
from hsc_jax import atomic
from hsc_jax.export.convert import convert_to_onnx, export_ready_copy, jax_probabilities
from hsc_jax.export.graph_fixes import batch_norms, global_pools, transposes, validity
from hsc_jax.export.layout import cancel_transposes
from hsc_jax.export.metadata import attach_contract, export_contract
from hsc_jax.export.simplify import simplify
from hsc_jax.export.verify import DEFAULT_TOLERANCE, check_parity, max_differences

logger = logging.getLogger(__name__)

MIN_OPSET, MAX_OPSET = 17, 23
DEFAULT_OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10 and TensorRT 8.x parsers


@dataclasses.dataclass(frozen=True)
class ExportReport:
    path: Path
    opset: int
    node_count: int
    op_counts: dict[str, int]
    file_bytes: int
    max_abs_diff: dict[int, float]  # batch size -> max |onnxruntime - JAX| (empty if unchecked)
    contract: ModelContract


def build_onnx(
    model: nnx.Module,
    image_size: tuple[int, int],
    opset: int = DEFAULT_OPSET,
    simplified: bool = True,
) -> onnx.ModelProto:
    """The cleaned-up float32 graph of an export-ready (eval, grouped) model, without metadata."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in {MIN_OPSET}..{MAX_OPSET}, got {opset}")
    proto = convert_to_onnx(model, image_size, opset)
    proto = validity.drop_value_info(proto)
    proto = validity.reductions_to_axes_attribute(proto)
    proto = batch_norms.remove_inference_dropouts(proto)
    if simplified:
        proto = simplify(proto)
        proto = validity.drop_value_info(proto)
    proto = batch_norms.remove_batch_norms(proto)
    if simplified:
        proto = cancel_transposes(proto)
    proto = transposes.sink_transpose_below_silu(proto)
    proto = transposes.reduce_before_transpose(proto)
    proto = transposes.squeeze_single_logit(proto)
    proto = global_pools.reductions_to_global_pools(proto)
    proto = validity.strip_unused_opset_imports(proto)
    proto.ir_version = min(proto.ir_version, IR_VERSION) if opset <= 18 else proto.ir_version
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(
    model: nnx.Module,
    image_size: tuple[int, int],
    contract: ModelContract | None,
    output: str | Path,
    opset: int = DEFAULT_OPSET,
    *,
    threshold: float | None = None,
    training_config: dict[str, Any] | None = None,
    simplified: bool = True,
    verify: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportReport:
    """Export `model` (any mode, any depthwise form; it is not modified) to `output`.

    `contract`: the preprocessing contract (the checkpoint's); None uses the reference defaults.
    `threshold` overrides its decision threshold. With `verify`, onnxruntime must match the
    JAX model in eval mode within `tolerance` on a random batch of 7 and on batch 1, else
    `ExportMismatchError` is raised and nothing is written.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    ready = export_ready_copy(model)
    config = getattr(ready, "config", None)
    contract = export_contract(
        contract,
        image_size,
        model_config=config.to_dict() if hasattr(config, "to_dict") else None,
        training_config=training_config,
        threshold=threshold,
    )
    proto = attach_contract(build_onnx(ready, image_size, opset, simplified), contract)
    differences: dict[int, float] = {}
    if verify:
        differences = max_differences(proto, jax_probabilities(ready), image_size)
        check_parity(differences, tolerance)
    path = write_atomically(proto, output)
    return ExportReport(
        opset=opset, max_abs_diff=differences, contract=contract, **written_graph(proto, path)
    )


def written_graph(proto: onnx.ModelProto, path: Path) -> dict[str, Any]:
    """What an export report says of the file it wrote: path, node count, ops, bytes."""
    counts = collections.Counter(node.op_type for node in proto.graph.node)
    return {
        "path": path,
        "node_count": len(proto.graph.node),
        "op_counts": dict(counts.most_common()),
        "file_bytes": path.stat().st_size,
    }


def write_atomically(proto: onnx.ModelProto, output: str | Path) -> Path:
    """Save next to `output` under a temporary name, then rename over it; the file's mode
    follows the umask like any file the user creates (a model file is for everyone)."""
    output = Path(output)
    with atomic.atomic_path(output) as temporary:
        onnx.save(proto, temporary)
    return output
