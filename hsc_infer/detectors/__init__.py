"""Head and face detectors behind one interface (`Detector`)."""

from __future__ import annotations

from pathlib import Path

from hsc_infer.detectors.base import Box, Detection, DetectionKind, Detector
from hsc_infer.detectors.deimv2 import HEAD_CLASS_ID, Deimv2Detector
from hsc_infer.detectors.haar import HaarFaceDetector


def load_detector(
    model_path: str | Path | None = None,
    provider: str = "cpu",
    score_threshold: float = 0.35,
    trt_cache_dir: str | Path = ".",
    trt_int8: bool = False,
) -> Detector:
    """DEIMv2 when a model path is given, else the bundled Haar face cascade."""
    if model_path is None:
        return HaarFaceDetector()
    return Deimv2Detector(
        model_path, provider, score_threshold, trt_cache_dir=trt_cache_dir, trt_int8=trt_int8
    )


__all__ = [
    "HEAD_CLASS_ID",
    "Box",
    "Deimv2Detector",
    "Detection",
    "DetectionKind",
    "Detector",
    "HaarFaceDetector",
    "load_detector",
]
