"""Stand-ins for real models and footage: tiny ONNX models and a synthetic video.

`benchmarks/inference/latency.py` times the inference path around them, and the tests (through
tests/helpers.py) run it on them. `onnx` (a dev tool) is imported only when a builder runs.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract

OPSET = 17


def require_onnx() -> ModuleType:
    """The `onnx` module, or an ImportError that says how to get it."""
    try:
        import onnx
    except ImportError as e:  # the base install has no onnx
        raise ImportError("building test models needs the `onnx` package (pip install onnx)") from e
    return onnx


def build_tiny_classifier(
    path: str | Path,
    input_size: tuple[int, int] = (48, 48),
    contract: ModelContract | None = None,
    input_name: str = "images",
    output_name: str = "prob_smiling",
    output_rank: int = 1,
    static_batch: int | None = None,
) -> Path:
    """A classifier whose probability is sigmoid(mean pixel * 8 - 4), so brighter = smilier.

    images [B, 3, H, W] -> ReduceMean over C, H, W -> affine -> Sigmoid -> [B] (or [B, 1]).
    """
    onnx = require_onnx()
    helper, tp = onnx.helper, onnx.TensorProto
    h, w = input_size
    batch = static_batch if static_batch is not None else "batch"
    out_shape = [batch] if output_rank == 1 else [batch, 1]
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "gain"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "offset"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
        helper.make_node("Reshape", ["prob", "out_shape"], [output_name]),
    ]
    initialisers = [
        helper.make_tensor("gain", tp.FLOAT, [], [8.0]),
        helper.make_tensor("offset", tp.FLOAT, [], [4.0]),
        helper.make_tensor("out_shape", tp.INT64, [output_rank], [-1] + [1] * (output_rank - 1)),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_hsc",
        [helper.make_tensor_value_info(input_name, tp.FLOAT, [batch, 3, h, w])],
        [helper.make_tensor_value_info(output_name, tp.FLOAT, out_shape)],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    if contract is not None:
        helper.set_model_props(model, {CONTRACT_METADATA_KEY: contract.to_json()})
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def build_tiny_deimv2(path: str | Path, rows: np.ndarray) -> Path:
    """A stand-in for DEIMv2 wholebody34: outputs the fixed `rows` [K, 6] for any frame.

    Output [1, K, 6] rows `[class_id, x1, y1, x2, y2, score]` (normalised); the frame input
    [1, 3, H, W] (dynamic H, W) is consumed by a zero-weight term so the graph depends on it.
    """
    onnx = require_onnx()
    helper, tp, nh = onnx.helper, onnx.TensorProto, onnx.numpy_helper
    rows = np.asarray(rows, dtype=np.float32).reshape(1, -1, 6)
    nodes = [
        helper.make_node("Constant", [], ["rows"], value=nh.from_array(rows, "rows_value")),
        helper.make_node("ReduceMax", ["input_bgr"], ["peak"], keepdims=0),
        helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
        helper.make_node("Add", ["rows", "nothing"], ["label_xyxy_score"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_deimv2",
        [helper.make_tensor_value_info("input_bgr", tp.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("label_xyxy_score", tp.FLOAT, [1, rows.shape[1], 6])],
        [helper.make_tensor("zero", tp.FLOAT, [], [0.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def synthetic_frame(index: int, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A BGR frame with a moving bright disc and a rectangle on a dark background."""
    h, w = size
    frame = np.full((h, w, 3), 30, dtype=np.uint8)
    cx = 60 + (index * 7) % max(1, w - 120)
    cv2.circle(frame, (cx, h // 2), 40, (200, 220, 240), -1)
    cv2.rectangle(frame, (w - 90, 20), (w - 30, 80), (40, 160, 40), -1)
    return frame


def write_synthetic_video(
    path: str | Path, frames: int = 8, size: tuple[int, int] = (240, 320), fps: float = 10.0
) -> Path:
    path = Path(path)
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {path}")
    for i in range(frames):
        writer.write(synthetic_frame(i, size))
    writer.release()
    return path
