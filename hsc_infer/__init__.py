"""hsc_infer: smile classification with onnxruntime alone (numpy, OpenCV, onnxruntime; no JAX)."""

from hsc_infer.classifier import SmileClassifier
from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract, preprocess, resize_image

__all__ = [
    "CONTRACT_METADATA_KEY",
    "ModelContract",
    "SmileClassifier",
    "preprocess",
    "resize_image",
]
