"""Test helpers: tiny ONNX models, synthetic frames and videos, the demo run without JAX.

Tests import this as `from helpers import ...` (tests/ is on sys.path); `scripts/bench_infer.py`
uses the builders too. `onnx` (a dev tool) is imported only when a builder runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract

OPSET = 17


def _onnx():
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
    onnx = _onnx()
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


def build_custom_graph(path: str | Path, inputs, outputs, nodes, initialisers=()) -> Path:
    """Save a graph from value-info triples (name, elem_type, shape): for error-path tests."""
    onnx = _onnx()
    helper = onnx.helper
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
        list(initialisers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    path = Path(path)
    onnx.save(model, str(path))
    return path


def build_tiny_deimv2(path: str | Path, rows: np.ndarray) -> Path:
    """A stand-in for DEIMv2 wholebody34: outputs the fixed `rows` [K, 6] for any frame.

    Output [1, K, 6] rows `[class_id, x1, y1, x2, y2, score]` (normalised); the frame input
    [1, 3, H, W] (dynamic H, W) is consumed by a zero-weight term so the graph depends on it.
    """
    onnx = _onnx()
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


def assert_detector_contract(detector, frame: np.ndarray, kind: str) -> list:
    """What hsc_infer.detectors.base.Detector promises: called on an (H, W, 3) uint8 BGR frame,
    a list of Detection whose boxes are int (x1, y1, x2, y2) pixels inside the frame, x2/y2
    exclusive and non-empty, with a finite score and the detector's kind. The frame is untouched.
    """
    from hsc_infer.detectors import Detection

    before = frame.copy()
    found = detector(frame)
    h, w = frame.shape[:2]
    assert isinstance(found, list)
    for detection in found:
        assert isinstance(detection, Detection)
        assert len(detection.box) == 4 and all(type(v) is int for v in detection.box)
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, (detection.box, frame.shape)
        assert np.isfinite(detection.score) and 0.0 <= detection.score <= 1.0
        assert detection.kind == kind
    np.testing.assert_array_equal(frame, before)
    return found


# What hsc_infer must run without: the JAX training side.
TRAINING_STACK = ("jax", "jaxlib", "flax", "optax", "orbax", "grain", "jax2onnx")


def run_demo_without_jax(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m hsc_infer.demo ARGV` in a fresh interpreter where every import of the training
    stack fails (a None entry in sys.modules makes `import jax` raise ImportError)."""
    script = textwrap.dedent(
        f"""
        import runpy, sys
        for name in {TRAINING_STACK!r}:
            sys.modules[name] = None
        sys.argv = ["hsc_infer.demo", *{list(map(str, argv))!r}]
        runpy.run_module("hsc_infer.demo", run_name="__main__")
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=timeout)
