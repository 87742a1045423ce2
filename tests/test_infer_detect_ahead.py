"""The detector on its own thread (`hsc_infer/demo/detect_ahead.py`): the same detections for
the same frames, started before the loop asks for them, and the demo's output unchanged."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest
from helpers import build_tiny_classifier
from skimage import data

from hsc_infer.demo import app
from hsc_infer.demo.detect_ahead import DetectAhead
from hsc_infer.detectors.base import Detection


class RecordingDetector:
    """Finds one box whose score is the frame's first pixel, and notes which frames it saw and
    on which thread."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.threads: set[str] = set()
        self.started = {i: threading.Event() for i in range(64)}

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        index = int(frame[0, 0, 0])
        self.seen.append(index)
        self.threads.add(threading.current_thread().name)
        self.started[index].set()
        return [Detection((0, 0, 4, 4), index / 100, kind="face")]


def numbered_frames(count: int):
    for i in range(count):
        yield np.full((8, 8, 3), i, np.uint8)


def test_every_nth_frame_is_detected_ahead_on_its_own_thread():
    detector = RecordingDetector()
    ahead = DetectAhead(detector, numbered_frames(10), detect_every=3)
    results = {}
    for i, frame in enumerate(ahead.frames()):
        if i % 3 == 0:
            # Started when the frame was read, before the loop asks for it.
            assert detector.started[i].wait(timeout=10)
            (found,) = ahead(frame)
            results[i] = found.score
    ahead.close()
    assert results == {0: 0.0, 3: 0.03, 6: 0.06, 9: 0.09}
    assert detector.seen == [0, 3, 6, 9] and ahead.run_ahead == 4
    assert detector.threads and all(name.startswith("detector") for name in detector.threads)


def test_a_camera_frame_reaches_the_loop_without_waiting_for_the_next():
    """A camera delivers frame i + 1 only after the loop has finished frame i (here, by an
    event): the loop must get frame i, and its detections, before that."""
    done = [threading.Event() for _ in range(4)]

    def camera():
        for i in range(4):
            yield np.full((8, 8, 3), i, np.uint8)
            assert done[i].wait(timeout=10), f"the loop never got frame {i}"

    ahead = DetectAhead(RecordingDetector(), camera(), detect_every=1, depth=1)
    got = []
    for frame in ahead.frames():
        (found,) = ahead(frame)
        got.append(found.score)
        done[int(frame[0, 0, 0])].set()
    ahead.close()
    assert got == [0.0, 0.01, 0.02, 0.03] and ahead.run_ahead == 4


def test_a_frame_off_the_schedule_is_detected_on_the_spot_and_passed_ones_are_dropped():
    detector = RecordingDetector()
    ahead = DetectAhead(detector, numbered_frames(7), detect_every=2)
    stream = ahead.frames()
    frames = [next(stream) for _ in range(2)]  # 0 (detected ahead, never asked for) and 1
    (found,) = ahead(frames[1])  # off the schedule: detected now
    assert found.score == 0.01 and ahead.run_ahead == 0
    frames.append(next(stream))  # 2
    (found,) = ahead(frames[2])
    assert found.score == 0.02 and ahead.run_ahead == 1
    frames += [next(stream), next(stream)]  # 3, then 4: 4's detection is the only one kept
    assert [i for i, _, _ in ahead._pending] == [4]
    ahead.close()


def test_the_detector_sees_the_prepared_frame_the_loop_gets():
    detector = RecordingDetector()
    flipped = DetectAhead(detector, numbered_frames(2), prepare=lambda f: (f + 10).astype(np.uint8))
    frames = list(flipped.frames())
    assert [int(f[0, 0, 0]) for f in frames] == [10, 11]
    assert [d.score for d in flipped(frames[1])] == [0.11]
    flipped.close()
    with pytest.raises(ValueError, match="detect_every"):
        DetectAhead(detector, numbered_frames(1), detect_every=0)


def face_clip(path, frames: int = 9) -> str:
    """The astronaut's face sliding right, 320x240: the default YuNet finds it in every frame."""
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[:240, 60:380]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15, (320, 240))
    for i in range(frames):
        writer.write(np.roll(photo, 4 * i, axis=1))
    writer.release()
    return str(path)


def test_the_demo_writes_the_same_results_with_and_without_the_detector_thread(
    tmp_path, monkeypatch
):
    made: list[DetectAhead] = []

    class Spy(DetectAhead):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app, "DetectAhead", Spy)
    video = face_clip(tmp_path / "face.mp4")
    hsc = build_tiny_classifier(tmp_path / "hsc.onnx")
    lines = {}
    for flag in ("--detector-thread", "--no-detector-thread"):
        out = tmp_path / flag.strip("-")
        argv = ["-v", video, "-hm", str(hsc), "--headless", "--output-dir", str(out), flag]
        argv += ["--detect-every", "2", "--confirm-hits", "1"]
        assert app.main(argv) == 0
        records = [json.loads(line) for line in (out / "output.jsonl").read_text().splitlines()]
        lines[flag] = [[(h["box"], h["prob"]) for h in r["heads"]] for r in records]
    threaded, plain = lines.values()
    assert len(threaded) == 9 and all(len(heads) == 1 for heads in threaded)
    assert threaded == plain
    (ahead,) = made  # the threaded run only, and its 5 detector runs all came from the thread
    assert ahead.run_ahead == 5
