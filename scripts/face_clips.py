"""Clips like a camera's: `face_path.compose_clip`'s frames with sensor noise and camera shake.

`compose_clip` repeats one background pixel for pixel while its faces drift, so a detector's
false box on the background comes back on every frame of a segment, and temporal confirmation
could not tell it from a face. A camera never shows the same frame twice: here every frame gets
fresh Gaussian sensor noise, and the whole frame moves by a small, smooth random walk (a hand-held
or loosely mounted camera: about 2.5 px standard deviation, a third of a pixel per frame, never
more than `MAX_SHAKE` px), shifted with bilinear interpolation so that sub-pixel offsets change
the pixels too. True face boxes move with the frame. `scripts/bench_face_clips.py` uses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
from face_path import ClipTruth, compose_clip

NOISE_SIGMA = 3.0  # grey levels: a webcam's sensor noise in ordinary indoor light
# The shake's random walk: velocity v <- V_KEEP v + N(0, SHAKE_STEP), offset p <- P_KEEP p + v.
# P_KEEP < 1 pulls the camera back towards where it points, so the offset stays a few pixels.
SHAKE_STEP = 0.35
V_KEEP = 0.7
P_KEEP = 0.9
MAX_SHAKE = 8.0
CAMERA_STREAM = 7919  # mixed into the seed: the camera's draws leave compose_clip's alone


def shake_offsets(count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 2) frame offsets (dx, dy) in pixels: a smooth random walk around (0, 0)."""
    offsets = np.zeros((count, 2))
    offset, velocity = np.zeros(2), np.zeros(2)
    for i in range(count):
        velocity = V_KEEP * velocity + rng.normal(0.0, SHAKE_STEP, 2)
        offset = np.clip(P_KEEP * offset + velocity, -MAX_SHAKE, MAX_SHAKE)
        offsets[i] = offset
    return offsets


def camera_frame(
    frame: np.ndarray, offset: np.ndarray, rng: np.random.Generator, noise_sigma: float
) -> np.ndarray:
    """`frame` moved by `offset` (edges mirrored in) with Gaussian noise added."""
    shift = np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]]], np.float32)
    h, w = frame.shape[:2]
    moved = cv2.warpAffine(
        frame, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    if noise_sigma <= 0:
        return moved
    noise = rng.standard_normal(moved.shape, dtype=np.float32) * noise_sigma
    return np.clip(moved.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def moved_truth(truth: ClipTruth, offset: np.ndarray, frame_shape: tuple[int, ...]) -> ClipTruth:
    """The true face boxes moved with the frame (whole pixels), clamped to it."""
    h, w = frame_shape[:2]
    dx, dy = (int(round(float(v))) for v in offset)
    boxes = tuple(
        (max(0, x1 + dx), max(0, y1 + dy), min(w, x2 + dx), min(h, y2 + dy))
        for x1, y1, x2, y2 in truth.boxes
    )
    return ClipTruth(boxes, truth.smiling)


def camera_clip(
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    photos: dict[str, np.ndarray],
    segments: int = 10,
    segment_frames: int = 60,
    seed: int = 0,
    noise_sigma: float = NOISE_SIGMA,
    shake: bool = True,
) -> Iterator[tuple[np.ndarray, ClipTruth]]:
    """`compose_clip`'s frames and true faces (same arguments) as a camera would deliver them:
    the same for the same seed, run after run."""
    rng = np.random.default_rng([seed, CAMERA_STREAM])
    count = segments * segment_frames
    offsets = shake_offsets(count, rng) if shake else np.zeros((count, 2))
    clip = compose_clip(faces, labels, photos, segments, segment_frames, seed=seed)
    for offset, (frame, truth) in zip(offsets, clip, strict=True):
        yield camera_frame(frame, offset, rng, noise_sigma), moved_truth(truth, offset, frame.shape)
