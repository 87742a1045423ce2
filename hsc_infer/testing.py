"""Tiny ONNX models and media for tests and benchmarks (needs the `onnx` package, a dev tool).

Nothing here is imported by the inference path; `onnx` is imported only when a builder runs.
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


def ferplus_leak_free_test(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """FERPlus's leak-free test split as (BGR faces, smiling labels): test rows that are not
    label conflicts and not byte copies of a train image (2,904 faces). Needs pandas."""
    import pandas as pd

    df = pd.read_parquet(
        path, columns=["split", "md5", "label_conflict", "class_id", "image_bytes"]
    )
    train_md5 = set(df.loc[df.split == "train", "md5"])
    test = df[(df.split == "test") & ~df.label_conflict & ~df.md5.isin(train_md5)]
    faces = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in test.image_bytes]
    return faces, test.class_id.to_numpy() == 1


SKIN_TONES_BGR = ((0.72, 0.82, 1.0), (0.60, 0.72, 0.92), (0.45, 0.55, 0.70), (0.80, 0.86, 0.98))


def paste_face_in_frame(
    face: np.ndarray,
    rng: np.random.Generator,
    frame_size: tuple[int, int] = (480, 640),
    side_range: tuple[int, int] = (110, 200),
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A colour BGR frame holding `face` (a grey or BGR face crop) and the pasted box.

    The face is enlarged to a random side in `side_range`, tinted with a skin tone (so a colour
    model and a grey one see different pixels) and placed at a random spot on a smooth random
    colour gradient with mild noise: a stand-in for a camera frame around a known face.
    """
    h, w = frame_size
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    side = int(rng.integers(side_range[0], side_range[1] + 1))
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    tone = np.asarray(SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))], np.float32)
    corners = rng.uniform(40, 220, size=(2, 2, 3)).astype(np.float32)
    frame = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    frame += rng.normal(0.0, 4.0, size=frame.shape).astype(np.float32)
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    frame[y : y + side, x : x + side] = big[..., None] * tone
    return np.clip(frame, 0, 255).astype(np.uint8), (x, y, x + side, y + side)


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
