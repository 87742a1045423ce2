"""The face check, a lever measured and not shipped: a small HSC model that tells a detected face
from what else a face detector boxes (a cat's face, a headlight, a line of print, gravel).

It is trained like the smile models (`hsc-jax train`, the P size, luma only), on crops
`square_crop` cuts from detector boxes, with class 1 "a face" instead of "smiling"
(`benchmarks.face_path.face_check_data` builds its data from the benchmark's dev photographs
and FERPlus train faces; the recipe is configs/face_check_p.json). `python -m
benchmarks.face_path.run --face-check-thresholds` drops a candidate whose face probability is
under a threshold. On the held-out scenes it removed no false box that the second look leaves,
and on the dev scenes, whose photographs it was trained on, it did
(docs/face-path-benchmark.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.detectors.base import square_patch

CROP_SIDE = 48  # the side the training crops were cut at


def square_crop(frame: np.ndarray, box: Sequence[float], side: int = CROP_SIDE) -> np.ndarray:
    """The check's crop of the square face `box`, for training and checking alike (area
    resampling: the crops are shrunk)."""
    return square_patch(frame, box, side, cv2.INTER_AREA)


class FaceCheck:
    """Face probability of candidate face boxes; a candidate under `threshold` fails.

    `model`: the face-check ONNX (`hsc-jax export` of the recipe's run). `threshold`: None takes
    the model's stored threshold. One onnxruntime thread: a frame has a few candidates, and idle
    pool threads would spin on the detector's core.
    """

    def __init__(
        self,
        model: str | Path,
        threshold: float | None = None,
        provider: str = "cpu",
    ) -> None:
        self.model = SmileClassifier(model, provider, threshold=threshold, intra_op_threads=1)

    @property
    def threshold(self) -> float:
        return self.model.threshold

    def face_probs(self, frame: np.ndarray, face_boxes: Sequence[Sequence[float]]) -> np.ndarray:
        """P(face) per face box (the project's square face box, frame pixels)."""
        if not len(face_boxes):
            return np.empty((0,), np.float32)
        return self.model.predict([square_crop(frame, box) for box in face_boxes])
