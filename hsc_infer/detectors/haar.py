"""OpenCV 4.x's bundled Haar frontal-face cascades (no download needed): the older, lighter
detector, chosen with `-m haar`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hsc_infer.detectors.base import Detection, check_frame, working_scale
from hsc_infer.errors import MediaError

CASCADES = ("default", "alt", "alt2")  # haarcascade_frontalface_<name>.xml


def cascade_path(name: str = "default") -> Path:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(cv2, "CascadeClassifier"):
        # OpenCV 5 wheels dropped both; the package pins opencv-python < 5 for this reason.
        raise MediaError(
            f"OpenCV {cv2.__version__} ships no Haar cascades; install opencv-python>=4.8,<5 "
            "or pass a DEIMv2 detector model"
        )
    if name not in CASCADES:
        raise ValueError(f"unknown Haar cascade {name!r}; expected one of {', '.join(CASCADES)}")
    return Path(data.haarcascades) / f"haarcascade_frontalface_{name}.xml"


class HaarFaceDetector:
    """Frontal faces as `kind="face"` detections. The cascade has no calibrated score, so every
    detection gets score 1.0.

    Frames wider than `detect_width` are searched at that width (boxes scaled back): the
    cascade's cost grows with the pixel count, and at 320 px wide a face of 48+ px in a 640 px
    frame is still found (`min_size` is in the searched image's pixels). None: full size.
    `equalize`: spread the grey levels first. `cascade`: which bundled frontal-face cascade
    ("default", "alt", "alt2").

    The defaults come from the benchmark on real backgrounds (docs/face-path-benchmark.md):
    alt2 with 3 neighbours, no equalisation, 320 px wide found 71.7 % of the faces with 0.042
    false boxes per frame in 21 ms, where the default cascade equalised (the earlier setting)
    found 54.0 % with 0.060 in 31 ms (equalising cost the default cascade 7-11 points of recall
    at every width for a small drop in false boxes).
    """

    kind = "face"

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 3,
        min_size: tuple[int, int] = (24, 24),
        detect_width: int | None = 320,
        equalize: bool = False,
        cascade: str = "alt2",
    ) -> None:
        path = cascade_path(cascade)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise MediaError(f"could not load the Haar cascade {path}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.detect_width = detect_width
        self.equalize = equalize

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        check_frame(frame)
        h, w = frame.shape[:2]
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        scale = working_scale(w, self.detect_width)
        if scale != 1.0:
            grey = cv2.resize(
                grey, (self.detect_width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA
            )
        found = self._cascade.detectMultiScale(
            cv2.equalizeHist(grey) if self.equalize else grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=self.min_size,
        )
        detections = []
        for x, y, bw, bh in np.asarray(found, dtype=np.float64).reshape(-1, 4) / scale:
            box = (int(x), int(y), min(int(round(x + bw)), w), min(int(round(y + bh)), h))
            detections.append(Detection(box=box, score=1.0, kind="face"))
        return detections
