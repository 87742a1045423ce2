"""The face check, a lever measured and not shipped: a small HSC model that tells a detected face
from what else a face detector boxes (a cat's face, a headlight, a line of print, gravel).

It is trained like the smile models (`hsc-jax train`, the P size, luma only), on crops
`square_crop` cuts from detector boxes, with class 1 "a face" instead of "smiling"
(`face_check_data.py` builds its data from the benchmark's dev photographs and FERPlus train
faces; the recipe is configs/face_check_p.json). `scripts/bench_face_path.py
--face-check-thresholds` drops a candidate whose face probability is under a threshold. On the
held-out scenes it removed no false box that the second look leaves, and on the dev scenes,
whose photographs it was trained on, it did (docs/face-path-benchmark.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.detectors.second_look import Candidates

CROP_SIDE = 48  # the side the training crops were cut at

C = TypeVar("C", bound=Candidates)


def square_crop(frame: np.ndarray, box: Sequence[float], side: int = CROP_SIDE) -> np.ndarray:
    """The square `box` (x1, y1, x2, y2 in frame pixels; it may reach past the frame) as a
    `side` x `side` crop, the frame's edge repeated where the box leaves it: a face at the
    edge keeps its shape instead of being squeezed into what is left inside."""
    x1, y1, x2, _ = box
    scale = side / max(x2 - x1, 1e-6)
    to_crop = np.array([[scale, 0.0, -x1 * scale], [0.0, scale, -y1 * scale]])
    return cv2.warpAffine(
        frame, to_crop, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


class FaceCheck:
    """Face probability of candidate face boxes, and dropping those under `threshold`.

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

    def rescore(self, frame: np.ndarray, output: C, face_boxes: np.ndarray, todo: np.ndarray) -> C:
        """`output` with the score of each candidate marked in `todo` whose face box fails the
        check set to 0 (the others, which the detector drops anyway, are not checked)."""
        todo = np.flatnonzero(todo)
        scores = output.scores.copy()
        probs = self.face_probs(frame, face_boxes[todo])
        scores[todo[probs < self.threshold]] = 0.0
        return replace(output, scores=scores)
