"""What the demo writes: output.jsonl lines, YOLO-format text, and output.mp4 on a thread."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.demo.pipeline import FrameResult
from hsc_infer.errors import MediaError

CLASS_IDS = {"head": 7, "face": 16}  # wholebody34 ids, for -drc and -oyt


class FaceTally:
    """How many faces the demo showed and how many it called smiling, for its closing log."""

    def __init__(self) -> None:
        self.frames = self.frames_with_faces = self.faces = self.smiling = 0

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        self.frames_with_faces += bool(result.heads)
        self.faces += len(result.heads)
        self.smiling += sum(head.smiling for head in result.heads)

    def summary(self) -> str:
        per_frame = self.faces / self.frames if self.frames else 0.0
        return (
            f"{self.faces} face(s) in {self.frames} frame(s) ({per_frame:.2f} per frame, "
            f"{self.frames - self.frames_with_faces} frame(s) without one), "
            f"{self.smiling} smiling"
        )


def frame_record(index: int, result: FrameResult, show_ids: bool = True) -> dict:
    """One output.jsonl line; track ids are null when the tracking display is off (-dtk)."""
    return {
        "frame": index,
        "faces": len(result.heads),
        "latency_ms": {
            "detector": round(result.detector_ms, 3),
            "classifier": round(result.classifier_ms, 3),
        },
        "heads": [
            {
                "track_id": head.track_id if show_ids else None,
                "box": list(head.box),
                "prob": round(head.prob, 6),
                "smiling": head.smiling,
                "label": head.label,
            }
            for head in result.heads
        ],
    }


def yolo_lines(result: FrameResult, shape: tuple[int, ...]) -> list[str]:
    """`cls cx cy w h` per box drawn (the crop classified), its class the crop's kind: a face
    crop cut from a head box is a face (16), a head grown from a face box is a head (7)."""
    h, w = shape[:2]
    lines = []
    for head in result.heads:
        x1, y1, x2, y2 = head.box
        cls = CLASS_IDS[head.kind]
        cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return lines


def visible(result: FrameResult, hidden_class_ids: list[int]) -> FrameResult:
    """`result` without the boxes whose class (`-drc`) is hidden."""
    if not hidden_class_ids:
        return result
    heads = tuple(h for h in result.heads if CLASS_IDS[h.kind] not in hidden_class_ids)
    return FrameResult(
        heads, result.detector_ms, result.classifier_ms, result.tracking_ms, result.detected
    )


class VideoSink:
    """output.mp4 (mp4v) written on a thread: encoding a 640x480 frame costs a few ms that the
    loop need not wait for. `threaded=False` writes on the caller's thread."""

    _END = None

    def __init__(
        self, path: Path, fps: float, size: tuple[int, int], threaded: bool = True, depth: int = 4
    ) -> None:
        self.path = path
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise MediaError(f"cannot write {path} (mp4v); pass -dvw to skip output.mp4")
        self._queue: queue.Queue | None = None
        self._error: Exception | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._drain, name="video-writer", daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while (image := self._queue.get()) is not self._END:
            try:
                self._writer.write(image)
            except Exception as e:  # raised on the loop's side at the next write or close
                self._error = e

    def write(self, image: np.ndarray) -> None:
        if self._error is not None:
            raise MediaError(f"writing {self.path} failed: {self._error}") from self._error
        if self._queue is None:
            self._writer.write(image)
        else:
            self._queue.put(image)

    def close(self) -> None:
        if self._queue is not None:
            self._queue.put(self._END)
            self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise MediaError(f"writing {self.path} failed: {self._error}") from self._error
