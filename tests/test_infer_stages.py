"""The demo loop's per-stage times, the frame reader thread and the threaded video writer."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from helpers import build_tiny_classifier, build_tiny_deimv2, write_synthetic_video

from hsc_infer.demo import app
from hsc_infer.demo.capture import Prefetcher
from hsc_infer.demo.output import VideoSink
from hsc_infer.demo.stages import STAGES, StageTimes
from hsc_infer.inputs import frames


def test_stage_times_collect_and_summarise():
    times = StageTimes()
    times.start_frame()
    for ms in (10.0, 20.0, 30.0):
        times.add("detection", ms)
    times.add("classification", 1.5)
    with times.stage("drawing"):
        pass
    times.start_frame()
    assert times.means()["detection"] == 20.0 and times.means()["classification"] == 1.5
    assert times.overlay_line().startswith("det 30.0 cls 1.5 draw ")
    assert len(times.frame_ms) == 1 and times.loop_fps() > 0 and times.fps > 0
    assert "FPS over 1 frames" in times.summary()
    with pytest.raises(ValueError, match="capture"):
        times.add("decoding", 1.0)


def test_prefetcher_yields_every_frame_in_order(tmp_path):
    video = write_synthetic_video(tmp_path / "in.mp4", frames=5)
    capture = cv2.VideoCapture(str(video))
    expected = list(frames(capture))
    capture.release()
    capture = cv2.VideoCapture(str(video))
    prefetcher = Prefetcher(capture, depth=1)
    got = list(prefetcher)
    prefetcher.close()
    capture.release()
    assert len(got) == 5 and all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_prefetcher_closes_while_frames_remain(tmp_path):
    video = write_synthetic_video(tmp_path / "in.mp4", frames=8)
    capture = cv2.VideoCapture(str(video))
    prefetcher = Prefetcher(capture, depth=1)
    next(iter(prefetcher))
    prefetcher.close()  # the reader is blocked on a full queue: it must still stop
    assert not prefetcher._thread.is_alive()
    capture.release()


@pytest.mark.parametrize("threaded", [True, False])
def test_video_sink_writes_every_frame(tmp_path, threaded):
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, 10.0, (64, 48), threaded=threaded)
    for i in range(4):
        sink.write(np.full((48, 64, 3), 40 * i, np.uint8))
    sink.close()
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    capture.release()


def test_demo_logs_fps_and_stage_times(tmp_path, caplog):
    hsc = build_tiny_classifier(tmp_path / "hsc.onnx")
    deimv2 = build_tiny_deimv2(tmp_path / "det.onnx", np.array([[7, 0.1, 0.1, 0.5, 0.5, 0.9]]))
    video = write_synthetic_video(tmp_path / "in.mp4", frames=4)
    argv = ["-v", str(video), "-hm", str(hsc), "-m", str(deimv2), "--headless"]
    with caplog.at_level(logging.INFO, logger="hsc_infer.demo"):
        assert app.main([*argv, "--output-dir", str(tmp_path / "out")]) == 0
    (summary,) = [r.getMessage() for r in caplog.records if "FPS over" in r.getMessage()]
    assert "FPS over 4 frames" in summary
    for stage in ("capture", "detection", "classification", "tracking", "drawing", "writing"):
        assert stage in summary
    assert "display" in STAGES and "display" not in summary  # headless: nothing shown
