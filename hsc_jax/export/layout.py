"""Transpose clean-up: onnxruntime's basic (provider-independent) graph rewrites, saved offline.

jax2onnx keeps JAX's NHWC layout between ops that need NCHW, so the graph carries Transpose
pairs around depthwise convolutions, squeeze-excite and SiLU. onnxruntime's transpose optimizer
pushes them through elementwise ops and cancels them; at the basic level it only uses standard
ONNX ops, so the saved graph is a portable ONNX model for every consumer (TensorRT included).
Anything else (a contrib op, a failed check) keeps the graph as it was.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import onnx

from hsc_jax.export.graph_fixes.validity import strip_unused_opset_imports

logger = logging.getLogger(__name__)


def cancel_transposes(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph after onnxruntime's basic optimisations, or `model` when they do not fit."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        optimized_path = Path(folder) / "basic.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized_path)
        try:
            ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            optimized = onnx.load(str(optimized_path))
        except Exception as e:  # keep the valid input graph
            warnings.warn(f"transpose clean-up skipped: onnxruntime failed ({e})", stacklevel=2)
            return model
    foreign = sorted({n.domain for n in optimized.graph.node if n.domain not in ("", "ai.onnx")})
    if foreign:
        logger.info("transpose clean-up skipped: it used non-standard domains %s", foreign)
        return model
    optimized = strip_unused_opset_imports(optimized)
    del optimized.metadata_props[:]
    optimized.metadata_props.extend(model.metadata_props)
    optimized.ir_version = model.ir_version
    try:
        onnx.checker.check_model(optimized, full_check=True)
    except Exception as e:
        logger.info("transpose clean-up skipped: the result failed the checker (%s)", e)
        return model
    return optimized
