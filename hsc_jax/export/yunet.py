"""`export_yunet`: libfacedetection's YuNet weights -> the verified ONNX face detector that
`hsc_infer` ships (`hsc_infer/models/yunet_face.onnx`).

Steps, as for the classifier (`exporter.py`): the Flax port (`hsc_jax.models.yunet`) with the
C++ file's weights -> jax2onnx with a dynamic batch, height and width -> opset/value_info fixes
-> onnxsim -> onnxruntime's transpose clean-up -> full check -> `yunet_contract` metadata ->
onnxruntime against JAX on random images of several sizes -> written atomically.

The graph takes BGR 0-255 float32 NCHW images, padded to multiples of 32 as its contract asks
(it cuts any other height and width down to a multiple of 32 itself), and returns every cell's
score (sigmoid and sqrt in the graph) and raw box and landmark regression;
`hsc_infer.detectors.yunet_decode` decodes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from flax import nnx
from jax import lax

from hsc_infer.detectors.yunet_decode import (
    INPUT_NAME,
    OUTPUT_NAMES,
    YUNET_CONTRACT_KEY,
    YuNetContract,
)
from hsc_jax.errors import ExportMismatchError
from hsc_jax.export.converter_plugins import load_converter_plugins
from hsc_jax.export.exporter import (
    IR_VERSION,
    MAX_OPSET,
    MIN_OPSET,
    write_atomically,
    written_graph,
)
from hsc_jax.export.graph_fixes import validity
from hsc_jax.export.layout import cancel_transposes
from hsc_jax.export.metadata import set_metadata
from hsc_jax.export.simplify import simplify
from hsc_jax.export.verify import onnx_session
from hsc_jax.models.layers import set_conv_impl
from hsc_jax.models.yunet import PAD_MULTIPLE, STRIDES, YuNet
from hsc_jax.models.yunet_weights import yunet_from_file

logger = logging.getLogger(__name__)

# Where the weights come from (../shared/third_party/libfacedetection/PROVENANCE.md).
SOURCE = (
    "libfacedetection (github.com/ShiqiYu/libfacedetection), src/facedetectcnn-data.cpp at "
    "commit acf7b254121927e7dced30e233a2e03119f28ea2; the weights last changed in 4092665 "
    "(2022-10-08), the ones the yuface 2023.5.1 wheel carries"
)
LICENCE = (
    "3-clause BSD, Copyright (c) 2018-2023 Shiqi Yu; the notice ships beside the model as "
    "yunet_face.LICENSE"
)
# (batch, height, width) of the random images onnxruntime is checked against JAX on: several
# shapes, since H and W are dynamic in the graph.
PARITY_SHAPES = ((2, 64, 96), (1, 96, 64), (1, 160, 128))
# Max |onnxruntime - JAX| per output. The input is 0-255, so activations are large; the raw
# regressions are used through exp() and a stride, and 1e-3 of them is far below a pixel.
PARITY_TOLERANCE = {"scores": 1e-4, "boxes": 1e-3, "landmarks": 1e-3}


@dataclasses.dataclass(frozen=True)
class YuNetExportReport:
    path: Path
    opset: int
    node_count: int
    op_counts: dict[str, int]
    file_bytes: int
    max_abs_diff: dict[str, float]  # output name -> max |onnxruntime - JAX| over PARITY_SHAPES
    contract: YuNetContract


def detector_fn(model: YuNet) -> Callable[[jax.Array], tuple[jax.Array, jax.Array, jax.Array]]:
    """images (B, 3, H, W) NCHW BGR 0-255 -> scores (B, N), boxes (B, N, 4), landmarks
    (B, N, 10), for an eval-mode YuNet."""

    def yunet_face(images: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        b, c, h, w = images.shape
        # A no-op on what the contract asks for; under jax2onnx's symbolic H and W it is what
        # tells JAX that every level divides evenly (H and W become 32 * (H // 32)). An explicit
        # slice: indexing may trace as a gather, which jax2onnx cannot lower with symbolic sizes
        # once an earlier conversion in the process has patched numpy-style indexing.
        limit = (b, c, PAD_MULTIPLE * (h // PAD_MULTIPLE), PAD_MULTIPLE * (w // PAD_MULTIPLE))
        images = lax.slice(images, (0, 0, 0, 0), limit)
        out = model(jnp.transpose(images, (0, 2, 3, 1)))  # (B, H, W, 3)
        scores = jnp.sqrt(jax.nn.sigmoid(out["cls"][..., 0]) * jax.nn.sigmoid(out["obj"][..., 0]))
        return scores, out["bbox"], out["kps"]

    return yunet_face


def convert(model: YuNet, opset: int) -> onnx.ModelProto:
    """Raw jax2onnx output with symbolic batch, height and width."""
    from jax2onnx import to_onnx  # heavy import, only when exporting

    load_converter_plugins()
    serde_log = logging.getLogger("onnx_ir.serde")
    previous_level = serde_log.level
    serde_log.setLevel(logging.ERROR)  # notes about the converter's internals, not the model
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"jax2onnx")
            return to_onnx(
                detector_fn(model),
                [("B", 3, "H", "W")],
                model_name="yunet_face",
                opset=opset,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
            )
    finally:
        serde_log.setLevel(previous_level)


def name_cell_axis(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Call the outputs' cell axis "N": jax2onnx writes a wrong formula there (only the stride-8
    level's 16 * (H / 32) * (W / 32) of the 21 * (H / 32) * (W / 32) cells)."""
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        if len(dims) >= 2:
            dims[1].dim_param = "N"
    return proto


def build_yunet_onnx(model: YuNet, opset: int = 17) -> onnx.ModelProto:
    """The cleaned-up, checked float32 graph of `model` (not modified), without metadata."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in {MIN_OPSET}..{MAX_OPSET}, got {opset}")
    ready = nnx.clone(model)
    set_conv_impl(ready, "grouped")  # plain Conv nodes
    proto = convert(ready, opset)
    proto = validity.drop_value_info(proto)
    # For any reduction jax2onnx may write at opset 17 (axes as an attribute there). Today's
    # graph has none (the pools export as MaxPool), so this is a no-op on it.
    proto = validity.reductions_to_axes_attribute(proto)
    proto = simplify(proto)
    proto = validity.drop_value_info(proto)
    proto = cancel_transposes(proto)
    proto = validity.strip_unused_opset_imports(proto)
    proto = name_cell_axis(proto)
    if opset <= 18:
        proto.ir_version = min(proto.ir_version, IR_VERSION)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def weights_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_contract(weights: str | Path) -> YuNetContract:
    return YuNetContract(
        pad_multiple=PAD_MULTIPLE,
        strides=STRIDES,
        source=f"{SOURCE}; sha256 of the file read: {weights_sha256(weights)}",
        licence=LICENCE,
    )


def attach_contract(proto: onnx.ModelProto, contract: YuNetContract) -> onnx.ModelProto:
    set_metadata(proto, YUNET_CONTRACT_KEY, contract.to_json())
    proto.doc_string = (
        "YuNet face detector (libfacedetection, Copyright (c) 2018-2023 Shiqi Yu, 3-clause BSD), "
        f"ported to Flax and exported by hsc-jax. Contract: metadata key {YUNET_CONTRACT_KEY}."
    )
    return proto


def max_differences(
    proto: onnx.ModelProto, model: YuNet, shapes: Sequence[tuple[int, int, int]] = PARITY_SHAPES
) -> dict[str, float]:
    """Output name -> max |onnxruntime - JAX| over random 0-255 images of each (B, H, W)."""
    session = onnx_session(proto)
    reference = jax.jit(detector_fn(model))
    worst = dict.fromkeys(OUTPUT_NAMES, 0.0)
    for seed, (b, h, w) in enumerate(shapes):
        images = np.random.default_rng(seed).uniform(0, 255, (b, 3, h, w)).astype(np.float32)
        got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
        expected = [np.asarray(e) for e in reference(jnp.asarray(images))]
        for name, g, e in zip(OUTPUT_NAMES, got, expected, strict=True):
            if g.shape != e.shape:
                raise ExportMismatchError(
                    f"onnxruntime returned {name} of shape {g.shape} for a {b}x3x{h}x{w} input; "
                    f"JAX returned {e.shape}"
                )
            worst[name] = max(worst[name], float(np.max(np.abs(g - e))))
    return worst


def check_parity(differences: dict[str, float]) -> None:
    bad = {k: d for k, d in differences.items() if not d <= PARITY_TOLERANCE[k]}
    if bad:
        detail = ", ".join(
            f"{k}: {d:.3g} (allowed {PARITY_TOLERANCE[k]:g})" for k, d in bad.items()
        )
        raise ExportMismatchError(
            f"the exported YuNet disagrees with the JAX model ({detail}); no file was written"
        )


def export_yunet(weights: str | Path, output: str | Path, opset: int = 17) -> YuNetExportReport:
    """Read `facedetectcnn-data.cpp` at `weights`, export, verify, write `output` atomically."""
    model = yunet_from_file(weights)
    contract = export_contract(weights)
    proto = attach_contract(build_yunet_onnx(model, opset), contract)
    differences = max_differences(proto, model)
    check_parity(differences)
    path = write_atomically(proto, output)
    return YuNetExportReport(
        opset=opset, max_abs_diff=differences, contract=contract, **written_graph(proto, path)
    )
