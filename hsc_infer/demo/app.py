"""Smile demo: capture -> detect faces or heads -> classify (one batch per frame) -> track/smooth
-> draw.

    python -m hsc_infer.demo -v 0 --mirror                           # webcam, default detector
    python -m hsc_infer.demo -v in.mp4 -hm m.onnx -m deimv2.onnx --headless --output-dir out

`-m` picks the detector: yunet (the default: the shipped ONNX model), haar, or a DEIMv2
wholebody34 ONNX file. In video mode the detector runs on every `--detect-every`th frame and
its boxes follow the image in between. Reference flags are kept. With a DEIMv2 wholebody34 model every class is drawn (bodies, heads, faces, hands, keypoints,
bones) and -ast, -kst, -kdm, -ebm, -dnm, -dgm, -dlr, -dhm act as in the reference
(docs/wholebody.md); with a face detector the log says once that they cannot act. `-drc` takes
wholebody34 class ids: 7 hides head boxes, 16 hides face boxes.
`-oyt` writes `cls cx cy w h` (7 head, 16 face; normalised, 6 decimals) in
`<output-dir>/output/`: beside each annotated image in image mode, beside each raw frame
(`<frame>.png`) in video mode. Boxes drawn and written are the crops classified, in pixels,
with the class of what they hold. `-dtk` (key r) hides the track ids; tracking and smoothing
go on. In image mode there is no history, so the label follows the per-frame state.
The log ends with the loop's FPS and the mean ms of each stage.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.demo.args import build_parser as _build_parser
from hsc_infer.demo.capture import Prefetcher, capture_fps, open_source
from hsc_infer.demo.detect_ahead import DetectAhead
from hsc_infer.demo.drawing import draw_frame
from hsc_infer.demo.output import FaceTally, VideoSink, frame_record, visible, yolo_lines
from hsc_infer.demo.pipeline import FrameResult, HeadSmilePipeline
from hsc_infer.demo.stages import StageTimes
from hsc_infer.demo.wholebody.view import (
    WholeBodyView,
    flags_that_cannot_act,
    log_flags_that_cannot_act,
    write_yolo,
)
from hsc_infer.detectors import load_detector
from hsc_infer.detectors.deimv2 import Deimv2Detector
from hsc_infer.errors import USER_ERRORS, MediaError
from hsc_infer.inputs import frames, list_images, read_image

logger = logging.getLogger("hsc_infer.demo")

WINDOW = "HSC smile demo"
KEY_ESC = 27

__all__ = ["Demo", "build_parser", "main"]


def build_parser():
    return _build_parser(__doc__.split("\n")[0])


@dataclass(slots=True)
class ViewState:
    """What the keys toggle. As in the reference, tracking (r) only shows or hides the ids:
    turning it on shows them, and the id overlay (t) stays off while it is off."""

    show_tracking: bool
    show_ids: bool
    show_distance: bool
    running: bool = True

    @property
    def ids_visible(self) -> bool:
        return self.show_tracking and self.show_ids


def _handle_key(key: int, view: ViewState) -> None:
    key &= 0xFF
    if key in (KEY_ESC, ord("q")):
        view.running = False
    elif key == ord("r"):
        view.show_tracking = not view.show_tracking
        view.show_ids = view.show_ids or view.show_tracking
    elif key == ord("t"):
        view.show_ids = not view.show_ids
    elif key == ord("m"):
        view.show_distance = not view.show_distance


class Demo:
    def __init__(self, args) -> None:
        self.args = args
        trt_cache = args.trt_cache_dir or (Path(args.hsc_model).parent if args.hsc_model else ".")
        int8 = args.inference_type == "int8"
        classifier = SmileClassifier(
            args.hsc_model,
            args.execution_provider,
            # One thread: a frame's few crops take about a millisecond, and onnxruntime's idle
            # threads spin for a while after each run, stealing the detector's core.
            intra_op_threads=1,
            trt_cache_dir=trt_cache,
            trt_int8=int8,
            threshold=args.threshold,
            flip_test=args.flip_test,
        )
        detector = load_detector(
            args.model,
            args.execution_provider,
            args.object_score_threshold,
            trt_cache,
            int8,
            threads=args.detector_threads,
            detect_width=args.detector_width,
        )
        logger.info("detector: %s; classifier: %r", type(detector).__name__, classifier)
        self.detector = detector
        self.wholebody = WholeBodyView(args) if isinstance(detector, Deimv2Detector) else None
        self.parsed = None  # the last whole-body frame, for -oyt
        if self.wholebody is None:
            log_flags_that_cannot_act(flags_that_cannot_act(args), type(detector).__name__)
        self.pipeline = HeadSmilePipeline(
            detector,
            classifier,
            long_history=args.long_history,
            short_history=args.short_history,
            detect_every=args.detect_every,
            confirm_hits=args.confirm_hits,
            keep_missed=args.keep_missed,
        )
        self.view = ViewState(
            show_tracking=not args.disable_tracking,
            show_ids=not args.disable_trackid_overlay,
            show_distance=not args.disable_head_distance_measurement,
        )
        self.output_dir = Path(args.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.times = StageTimes()
        self.faces = FaceTally()

    @property
    def fps(self) -> float:
        return self.times.fps

    def annotate(self, frame: np.ndarray, result: FrameResult, show_fps: bool) -> np.ndarray:
        a = self.args
        with self.times.stage("drawing"):
            canvas = frame.copy()
            if self.wholebody is not None:
                self.parsed = self.wholebody.render(
                    canvas,
                    self.detector.last_rows,
                    result,
                    show_ids=self.view.ids_visible,
                    show_distance=self.view.show_distance,
                )
                result = dataclasses.replace(result, heads=())  # drawn above; stats below
            return draw_frame(
                canvas,
                visible(result, a.disable_render_classids),
                self.fps if show_fps else None,
                line_width=a.bounding_box_line_width,
                show_ids=self.view.ids_visible,
                horizontal_fov=a.camera_horizontal_fov if self.view.show_distance else None,
                face_mosaic=a.enable_face_mosaic,
                stages=self.times.overlay_line() if show_fps else None,
            )

    def _process(self, frame: np.ndarray) -> FrameResult:
        result = self.pipeline(frame)
        self.times.add("detection", result.detector_ms)
        self.times.add("classification", result.classifier_ms)
        self.times.add("tracking", result.tracking_ms)
        self.faces.add(result)
        return result

    def _show(self, image: np.ndarray, wait_ms: int) -> None:
        if self.args.headless:
            return
        with self.times.stage("display"):
            cv2.imshow(WINDOW, image)
            key = cv2.waitKey(wait_ms)
            _handle_key(key, self.view)
            if self.wholebody is not None and key >= 0:
                self.wholebody.handle_key(key)

    def _write_record(self, jsonl: IO[str] | None, index: int, result: FrameResult) -> None:
        if jsonl is not None:
            record = frame_record(index, result, show_ids=self.view.show_tracking)
            jsonl.write(json.dumps(record) + "\n")

    def run_video(self, source: str, jsonl: IO[str] | None) -> int:
        a = self.args
        try:
            capture = open_source(source)
        except (FileNotFoundError, MediaError) as e:
            raise MediaError(
                f"{e} (-v takes a camera index such as 0, a stream URL or a video file)"
            ) from e
        yolo_dir = self.output_dir / "output"
        if a.output_yolo_format_text:
            yolo_dir.mkdir(parents=True, exist_ok=True)
        count = 0
        with ExitStack() as stack:
            stack.callback(capture.release)  # runs last, after the reader thread has stopped
            source_frames = frames(capture)
            mirror = (lambda frame: cv2.flip(frame, 1)) if a.mirror else None
            if a.io_threads and a.detector_thread and self.wholebody is None:
                # Its reader thread reads the frames and starts their detections.
                ahead = DetectAhead(self.detector, source_frames, a.detect_every, mirror)
                stack.enter_context(closing(ahead))
                self.pipeline.detector = ahead
                stack.callback(setattr, self.pipeline, "detector", self.detector)
                source_frames, mirror = ahead.frames(), None
            elif a.io_threads:
                prefetcher = stack.enter_context(closing(Prefetcher(capture)))
                source_frames = iter(prefetcher)
            sink: VideoSink | None = None
            self.times.start_frame()
            while a.max_frames is None or count < a.max_frames:
                with self.times.stage("capture"):
                    frame = next(source_frames, None)
                    if frame is not None and mirror is not None:
                        frame = mirror(frame)
                if frame is None:
                    break
                result = self._process(frame)
                image = self.annotate(frame, result, show_fps=True)
                with self.times.stage("writing"):
                    if sink is None and not a.disable_video_writer:
                        sink = stack.enter_context(
                            closing(self._open_sink(capture, frame.shape, a.io_threads))
                        )
                    if sink is not None:
                        sink.write(image)
                    self._write_record(jsonl, count, result)
                    if a.output_yolo_format_text and self.parsed is not None:
                        write_yolo(yolo_dir, f"{count + 1:08d}", frame, image, self.parsed)
                    elif a.output_yolo_format_text:
                        cv2.imwrite(str(yolo_dir / f"{count:08d}.png"), frame)
                        text = "\n".join(yolo_lines(result, frame.shape))
                        (yolo_dir / f"{count:08d}.txt").write_text(text + "\n" if text else "")
                count += 1
                self._show(image, 1)
                self.times.start_frame()
                if not self.view.running:
                    break
        self.times.end()
        return count

    def _open_sink(
        self, capture: cv2.VideoCapture, shape: tuple[int, ...], threaded: bool
    ) -> VideoSink:
        w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or shape[1]
        h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or shape[0]
        return VideoSink(self.output_dir / "output.mp4", capture_fps(capture), (w, h), threaded)

    def run_images(self, directory: str, jsonl: IO[str] | None) -> int:
        a = self.args
        # Still images are unrelated to each other: no tracking, no smoothing.
        self.pipeline.set_tracking(False)
        out_dir = self.output_dir / "output"
        paths = list_images(directory)
        count = 0
        self.times.start_frame()
        for index, path in enumerate(paths):
            if a.max_frames is not None and index >= a.max_frames:
                break
            with self.times.stage("capture"):
                frame = read_image(path)
            if frame is None:
                logger.warning("cannot read image %s; skipped", path)
                continue
            result = self._process(frame)
            image = self.annotate(frame, result, show_fps=False)
            with self.times.stage("writing"):
                target = out_dir / path.relative_to(directory)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(target), image):
                    logger.warning("cannot write %s", target)
                if a.output_yolo_format_text and self.parsed is not None:
                    write_yolo(target.parent, target.stem, frame, image, self.parsed)
                elif a.output_yolo_format_text:
                    text = "\n".join(yolo_lines(result, frame.shape))
                    target.with_suffix(".txt").write_text(text + "\n" if text else "")
                self._write_record(jsonl, index, result)
            count += 1
            self._show(image, 1 if a.disable_waitKey else 0)
            self.times.start_frame()
            if not self.view.running:
                break
        self.times.end()
        return count

    def run(self) -> int:
        with ExitStack() as stack:
            jsonl = None
            if self.args.headless:
                jsonl = stack.enter_context(open(self.output_dir / "output.jsonl", "w"))
            else:
                stack.callback(cv2.destroyAllWindows)
            if self.args.images_dir is not None:
                return self.run_images(self.args.images_dir, jsonl)
            return self.run_video(self.args.video, jsonl)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        demo = Demo(args)
        count = demo.run()
    except USER_ERRORS as e:
        # Input the user can fix; any other exception is a bug and keeps its traceback.
        print(f"error: {e}", file=sys.stderr)
        return 1
    logger.info(
        "processed %d frame(s) in %.1f s; outputs in %s",
        count,
        time.perf_counter() - started,
        demo.output_dir.resolve(),
    )
    logger.info("%s", demo.faces.summary())
    logger.info("%s", demo.times.summary())
    return 0
