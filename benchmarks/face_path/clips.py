"""Clips with known faces: FERPlus faces drifting over the benchmark's photographs
(`compose_clip`, for `benchmarks.inference.demo`), and the same seen through a camera, with
sensor noise and shake (`camera_clip`, for `benchmarks.face_path.run_clips`).

`compose_clip` repeats one background pixel for pixel while its faces drift, so a detector's
false box on the background comes back on every frame of a segment, and temporal confirmation
could not tell it from a face. A camera never shows the same frame twice: here every frame gets
fresh Gaussian sensor noise, and the whole frame moves by a small, smooth random walk (a hand-held
or loosely mounted camera: about 2.5 px standard deviation, a third of a pixel per frame, never
more than `MAX_SHAKE` px), shifted with bilinear interpolation so that sub-pixel offsets change
the pixels too. True face boxes move with the frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks.face_path.frames import (
    BACKGROUNDS,
    background_frame,
    free_box,
    paste_face,
    skin_tone,
)

NOISE_SIGMA = 3.0  # grey levels: a webcam's sensor noise in ordinary indoor light
# The shake's random walk: velocity v <- V_KEEP v + N(0, SHAKE_STEP), offset p <- P_KEEP p + v.
# P_KEEP < 1 pulls the camera back towards where it points, so the offset stays a few pixels.
SHAKE_STEP = 0.35
V_KEEP = 0.7
P_KEEP = 0.9
MAX_SHAKE = 8.0
CAMERA_STREAM = 7919  # mixed into the seed: the camera's draws leave compose_clip's alone


@dataclass(frozen=True)
class ClipTruth:
    boxes: tuple[tuple[int, int, int, int], ...]  # per face in this frame
    smiling: tuple[bool, ...]


def drift(xy: np.ndarray, velocity: np.ndarray, side: int, frame_size: tuple[int, int]) -> tuple:
    """Move a `side` px square's corner `xy` by `velocity` (both in place), bouncing off the
    edges of a frame of `frame_size` (H, W); returns the square's box there."""
    for axis, limit in ((0, frame_size[1] - side), (1, frame_size[0] - side)):
        xy[axis] += velocity[axis]
        if not 0 <= xy[axis] <= limit:
            velocity[axis] = -velocity[axis]
            xy[axis] = min(max(xy[axis], 0), limit)
    x, y = (int(round(v)) for v in xy)
    return x, y, x + side, y + side


def compose_clip(
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    photos: dict[str, np.ndarray],
    segments: int = 5,
    segment_frames: int = 60,
    seed: int = 0,
    frame_size: tuple[int, int] = (480, 640),
    side_range: tuple[int, int] = (60, 220),
    max_speed: float = 4.0,
) -> Iterator[tuple[np.ndarray, ClipTruth]]:
    """Frames of a clip and their true faces: segments over the benchmark's backgrounds, each
    with 0-2 FERPlus faces drifting up to `max_speed` px per frame (a head moving at 120 px/s at
    30 FPS) and bouncing off the edges; the first segment holds no face."""
    rng = np.random.default_rng(seed)
    names = [n for n in BACKGROUNDS if n in photos]
    next_face = 0
    for segment in range(segments):
        background = background_frame(photos[names[int(rng.integers(len(names)))]], rng)
        movers = []
        for _ in range(0 if segment == 0 else int(rng.integers(1, 3))):
            side = int(rng.integers(side_range[0], side_range[1] + 1))
            box = free_box(rng, [m["box"] for m in movers], side, frame_size)
            if box is None:
                continue
            index = next_face % len(faces)
            next_face += 1
            movers.append(
                {
                    "box": box,
                    "xy": np.array(box[:2], np.float64),
                    "v": rng.uniform(-max_speed, max_speed, size=2),
                    "face": faces[index],
                    "smiling": bool(labels[index]),
                    "tone": skin_tone(rng),
                }
            )
        for _ in range(segment_frames):
            frame = background.copy()
            boxes = []
            for m in movers:
                box = drift(m["xy"], m["v"], m["box"][2] - m["box"][0], frame_size)
                paste_face(frame, m["face"], box, m["tone"])
                boxes.append(box)
            yield frame, ClipTruth(tuple(boxes), tuple(m["smiling"] for m in movers))


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
