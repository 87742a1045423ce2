"""Head and face detectors behind one interface (`Detector`)."""

from __future__ import annotations

import logging
from pathlib import Path

from hsc_infer.detectors.base import Box, Detection, DetectionKind, Detector, Landmarks
from hsc_infer.detectors.deimv2 import HEAD_CLASS_ID, Deimv2Detector
from hsc_infer.detectors.haar import HaarFaceDetector
from hsc_infer.detectors.second_look import SecondLook
from hsc_infer.detectors.yunet import YuNetFaceDetector

logger = logging.getLogger(__name__)

# Names `-m` takes besides a DEIMv2 ONNX path.
DETECTOR_NAMES = ("haar", "yunet")
DEIMV2_SCORE_THRESHOLD = 0.35  # the reference's head threshold


# The default: YuNet, the face-path benchmark's choice, on onnxruntime like the classifier.
DEFAULT_DETECTOR = "yunet"


def warn_unused(settings: dict, detector: str) -> None:
    """Log the YuNet-only settings a caller gave for another detector: they do not act."""
    given = [name for name, value in settings.items() if value is not None]
    if given:
        logger.warning("%s apply to YuNet only; %s ignores them", " and ".join(given), detector)


def load_detector(
    model: str | Path | None = None,
    provider: str = "cpu",
    score_threshold: float | None = None,
    trt_cache_dir: str | Path = ".",
    trt_int8: bool = False,
    threads: int | None = None,
    detect_width: int | None = None,
) -> Detector:
    """A detector by name or file.

    `model`: None for the default (YuNet), "haar", "yunet", or a DEIMv2 wholebody34 ONNX file
    (an existing file of that name wins over a name).
    `score_threshold`: YuNet's or DEIMv2's (None: each one's default); the Haar cascade has no
    score. `provider`, `trt_cache_dir`: the onnxruntime execution provider of YuNet and DEIMv2
    (`providers.py`; TensorRT builds YuNet one engine for every frame size, `TENSORRT_PROFILE`);
    `trt_int8`: DEIMv2's. `threads`: YuNet's onnxruntime intra-op threads (None: its default).
    `detect_width`: the width YuNet searches a frame at (None: its default).
    """
    name = str(model).lower() if model is not None else None
    yunet_only = {"threads": threads, "detect_width": detect_width}
    if model is not None and (Path(model).is_file() or name not in DETECTOR_NAMES):
        warn_unused(yunet_only, "the DEIMv2 detector")
        threshold = DEIMV2_SCORE_THRESHOLD if score_threshold is None else score_threshold
        return Deimv2Detector(
            model, provider, threshold, trt_cache_dir=trt_cache_dir, trt_int8=trt_int8
        )
    name = name or DEFAULT_DETECTOR
    if name == "haar":
        warn_unused(yunet_only, "the Haar detector")
        return HaarFaceDetector()
    settings: dict = {"provider": provider, "trt_cache_dir": trt_cache_dir}
    if score_threshold is not None:
        settings["score_threshold"] = score_threshold
    if threads is not None:
        settings["threads"] = threads
    if detect_width is not None:
        settings["detect_width"] = detect_width
    return YuNetFaceDetector(**settings)


__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTOR_NAMES",
    "HEAD_CLASS_ID",
    "Box",
    "Deimv2Detector",
    "Detection",
    "DetectionKind",
    "Detector",
    "HaarFaceDetector",
    "Landmarks",
    "SecondLook",
    "YuNetFaceDetector",
    "load_detector",
]
