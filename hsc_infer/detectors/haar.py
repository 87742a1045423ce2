"""The default detector: OpenCV 4.x's bundled Haar frontal-face cascade (no download needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hsc_infer.detectors.base import Detection, check_frame

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def cascade_path() -> Path:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(cv2, "CascadeClassifier"):
        # OpenCV 5 wheels dropped both; the package pins opencv-python < 5 for this reason.
        raise RuntimeError(
            f"OpenCV {cv2.__version__} ships no Haar cascades; install opencv-python>=4.8,<5 "
            "or pass a DEIMv2 detector model"
        )
    return Path(data.haarcascades) / CASCADE_FILE


class HaarFaceDetector:
    """Frontal faces as `kind="face"` detections. The cascade has no calibrated score, so every
    detection gets score 1.0."""

    kind = "face"

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: tuple[int, int] = (24, 24),
    ) -> None:
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade {path}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        check_frame(frame)
        grey = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=self.min_size,
        )
        h, w = frame.shape[:2]
        return [
            Detection(
                box=(int(x), int(y), int(min(x + bw, w)), int(min(y + bh, h))),
                score=1.0,
                kind="face",
            )
            for x, y, bw, bh in np.asarray(found).reshape(-1, 4)
        ]
