"""Reduced-precision ONNX: float16 weights/activations, or static int8 (onnxruntime QDQ).

Both keep the graph's float32 `images` input and `prob_smiling` output, so `hsc_infer` feeds
them exactly like the float32 model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hsc_jax.export.graph_fixes.validity import drop_value_info


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """float32 initializers, constants and casts -> float16; Cast nodes at the input and output.

    (onnxconverter-common's converter is not a dependency; HSC graphs use only ops whose type
    follows their inputs, so converting the constants and the two ends is enough.)
    """
    model = drop_value_info(onnx.ModelProto.FromString(model.SerializeToString()))
    graph = model.graph

    def half(tensor: onnx.TensorProto) -> onnx.TensorProto:
        array = numpy_helper.to_array(tensor)
        return numpy_helper.from_array(array.astype(np.float16), tensor.name)

    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(half(init))
    for node in graph.node:
        for attribute in node.attribute:
            is_value = node.op_type == "Constant" and attribute.name == "value"
            if is_value and attribute.t.data_type == TensorProto.FLOAT:
                attribute.t.CopyFrom(half(attribute.t))
            if (
                node.op_type == "Cast"
                and attribute.name == "to"
                and attribute.i == TensorProto.FLOAT
            ):
                attribute.i = TensorProto.FLOAT16
    (inp,), (out,) = graph.input, graph.output
    half_input, half_output = f"{inp.name}_fp16", f"{out.name}_fp16"
    for node in graph.node:
        node.input[:] = [half_input if n == inp.name else n for n in node.input]
        node.output[:] = [half_output if n == out.name else n for n in node.output]
    graph.node.insert(0, helper.make_node("Cast", [inp.name], [half_input], to=TensorProto.FLOAT16))
    graph.node.append(helper.make_node("Cast", [half_output], [out.name], to=TensorProto.FLOAT))
    onnx.checker.check_model(model, full_check=True)
    return model


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader protocol over NCHW float32 batches."""

    def __init__(self, input_name: str, batches: list[np.ndarray]):
        self.input_name = input_name
        self._batches: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: batch}


def quantize_int8(
    float_model_path: str, output_path: str, calibration_images: np.ndarray, batch: int = 32
) -> None:
    """Static QDQ int8 (per-channel weights, MinMax calibration) from NCHW float32 images."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    batches = [calibration_images[i : i + batch] for i in range(0, len(calibration_images), batch)]
    quantize_static(
        float_model_path,
        output_path,
        _CalibrationReader("images", batches),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
