"""The `yuface` wheel (libfacedetection's own C++ YuNet) as a search, for comparison only.

The detector runs the project's ONNX port (`detectors/yunet.py`); this keeps the C++ engine
one import away so benchmarks and the exactness tests can run both on the same frames:

    search = YufaceSearch(threads=1)
    found = search(image)                          # a YuNetOutput, like YuNetFaceDetector.search
    detector.search = YufaceSearch(threads=1)       # the whole face path (second look too) on it

The project installs it (the dev extra; pyproject's marker) only on CPython 3.11 on x86-64 Linux
and Windows; it holds the GIL while it runs and reports integer boxes and scores (0-100).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from hsc_infer.detectors.yunet_decode import YuNetOutput
from hsc_infer.errors import MediaError

# Where the dev extra installs it (pyproject's marker).
YUFACE_PLATFORMS = "CPython 3.11 on x86-64 Linux and Windows"


def import_yuface() -> ModuleType:
    """The `yuface` module, or a MediaError saying where the dev extra installs it."""
    try:
        import yuface
    except ImportError as e:
        raise MediaError(
            f"the yuface comparison engine needs the `yuface` package (the dev extra installs "
            f"it on {YUFACE_PLATFORMS}); `pip install yuface`"
        ) from e
    return yuface


def openmp_thread_setter(yuface: ModuleType) -> Callable[[int], None] | None:
    """`omp_set_num_threads` of the OpenMP runtime bundled in the yuface wheel (Linux:
    `yuface.libs/libgomp-*.so*`), or None where there is none to find."""
    package = Path(yuface.__file__).resolve().parent
    for path in sorted(package.parent.glob("yuface.libs/libgomp*.so*")):
        try:
            return ctypes.CDLL(str(path)).omp_set_num_threads
        except (OSError, AttributeError):
            continue
    return None


class YufaceSearch:
    """`yuface.detect` with the signature of `YuNetFaceDetector.search`: a BGR uint8 image ->
    every candidate (libfacedetection's own 0.2 threshold) in its pixels. `threads`: OpenMP
    threads (None: OpenMP's setting, by default one per core)."""

    def __init__(self, threads: int | None = 1) -> None:
        self._yuface = import_yuface()
        self.threads = threads
        self._set_threads = openmp_thread_setter(self._yuface) if threads is not None else None

    def __call__(self, image: np.ndarray) -> YuNetOutput:
        if self._set_threads is not None:
            self._set_threads(self.threads)  # per call: OpenMP keeps the count per thread
        scores, boxes, points = self._yuface.detect(np.ascontiguousarray(image), 0.0)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
        return YuNetOutput(
            scores=np.asarray(scores, np.float64).reshape(-1) / 100.0,
            boxes=boxes,
            landmarks=np.asarray(points, np.float64).reshape(-1, 5, 2),
        )
