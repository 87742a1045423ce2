"""ONNX export of HSC models for `hsc_infer`.

report = export_onnx(model, (48, 48), contract, "hsc.onnx")   # opset 17, verified
report = export_named_size("s", "runs/named_onnx")            # a zoo size, random weights
hsc-jax export --checkpoint runs/hsc --output hsc.onnx [--opset 18] [--threshold 0.4]

The face detector hsc_infer ships (`hsc_jax.export.yunet`, libfacedetection's YuNet; about 5-7 s):
hsc-jax export-yunet --weights facedetectcnn-data.cpp --output hsc_infer/models/yunet_face.onnx
"""

from hsc_jax.export.exporter import ExportReport, build_onnx, export_onnx
from hsc_jax.export.named_sizes import export_named_size, named_size_path
from hsc_jax.export.verify import ExportMismatchError

__all__ = [
    "ExportMismatchError",
    "ExportReport",
    "build_onnx",
    "export_named_size",
    "export_onnx",
    "named_size_path",
]
