"""Smile demo: capture -> detect heads -> classify (one batch per frame) -> track/smooth -> draw.

    python -m hsc_infer.demo -v 0 -hm hsc_s_48x48.onnx                 # webcam, Haar faces
    python -m hsc_infer.demo -v in.mp4 -hm m.onnx -m deimv2.onnx --headless --output-dir out

Reference flags are kept. Flags for detector attributes our detectors do not produce
(-ast, -kst, -kdm, -ebm, -dnm, -dgm, -dlr, -dhm) are accepted and have no effect.
`-drc` takes wholebody34 class ids: 7 hides head boxes, 16 hides face boxes.
`-oyt` writes `cls cx cy w h` (wholebody34 ids: 7 head, 16 face; normalised, 6 decimals) in
`<output-dir>/output/`: beside each annotated image in image mode, beside each raw frame
(`<frame>.png`) in video mode.
With tracking off (`-dtk`, `r`) and in image mode there is no history, so the label follows the
per-frame state. Boxes drawn and written are the crops classified, in pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.detectors import load_detector
from hsc_infer.drawing import draw_frame
from hsc_infer.errors import USER_ERRORS, MediaError
from hsc_infer.media import capture_fps, frames, list_images, open_capture, read_image
from hsc_infer.pipeline import FrameResult, HeadSmilePipeline
from hsc_infer.providers import add_model_arguments
from hsc_infer.smoothing import LONG_HISTORY_SIZE, SHORT_HISTORY_SIZE

logger = logging.getLogger("hsc_infer.demo")

WINDOW = "HSC smile demo"
CLASS_IDS = {"head": 7, "face": 16}  # wholebody34 ids, for -drc and -oyt
KEY_ESC = 27


def _at_least_two(value: str) -> int:
    number = int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hsc_infer.demo", description=__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("-v", "--video", help="camera index or video file")
    source.add_argument(
        "-i", "--images_dir", help="folder of images (jpg, jpeg, png, bmp, webp; recursive)"
    )
    p.add_argument("-m", "--model", default=None, help="DEIMv2 wholebody34 ONNX (default: Haar)")
    add_model_arguments(p)
    p.add_argument(
        "-it",
        "--inference_type",
        choices=("fp16", "int8"),
        default="fp16",
        help="TensorRT precision (int8 needs calibration.flatbuffers)",
    )
    p.add_argument("-dvw", "--disable_video_writer", action="store_true", help="no output.mp4")
    p.add_argument(
        "-dwk",
        "--disable_waitKey",
        action="store_true",
        help="do not wait for a key between images",
    )
    p.add_argument(
        "-ost",
        "--object_socre_threshold",
        "--object_score_threshold",
        dest="object_score_threshold",
        type=float,
        default=0.35,
        help="detector score threshold (DEIMv2)",
    )
    p.add_argument(
        "-ast",
        "--attribute_socre_threshold",
        type=float,
        default=0.70,
        help="accepted, no effect (no attributes detected)",
    )
    p.add_argument(
        "-kst",
        "--keypoint_threshold",
        type=float,
        default=0.30,
        help="accepted, no effect (no keypoints detected)",
    )
    p.add_argument(
        "--body-long-history-size",
        dest="long_history",
        type=_at_least_two,
        default=LONG_HISTORY_SIZE,
        help="long smoothing history N",
    )
    p.add_argument(
        "--body-short-history-size",
        dest="short_history",
        type=_at_least_two,
        default=SHORT_HISTORY_SIZE,
        help="short smoothing history M",
    )
    p.add_argument(
        "-kdm",
        "--keypoint_drawing_mode",
        choices=("dot", "box", "both"),
        default="dot",
        help="accepted, no effect",
    )
    for short, long in (
        ("-ebm", "--enable_bone_drawing_mode"),
        ("-dnm", "--disable_generation_identification_mode"),
        ("-dgm", "--disable_gender_identification_mode"),
        ("-dlr", "--disable_left_and_right_hand_identification_mode"),
        ("-dhm", "--disable_headpose_identification_mode"),
    ):
        p.add_argument(short, long, action="store_true", help="accepted, no effect")
    p.add_argument(
        "-drc",
        "--disable_render_classids",
        type=int,
        nargs="*",
        default=[],
        help="class ids not to draw (7 head, 16 face)",
    )
    p.add_argument("-efm", "--enable_face_mosaic", action="store_true", help="pixelate faces")
    p.add_argument("-dtk", "--disable_tracking", action="store_true", help="no tracking (key r)")
    p.add_argument(
        "-dti",
        "--disable_trackid_overlay",
        action="store_true",
        help="no track ids on screen (key t)",
    )
    p.add_argument(
        "-dhd",
        "--disable_head_distance_measurement",
        action="store_true",
        help="no head distance (key m)",
    )
    p.add_argument(
        "-oyt", "--output_yolo_format_text", action="store_true", help="write YOLO-format boxes"
    )
    p.add_argument("-bblw", "--bounding_box_line_width", type=_at_least_two, default=2)
    p.add_argument(
        "-chf",
        "--camera_horizontal_fov",
        type=int,
        default=90,
        help="camera horizontal FOV in degrees, for the head distance",
    )
    p.add_argument("--threshold", type=float, default=None, help="override the model's threshold")
    p.add_argument(
        "--headless", action="store_true", help="no window, no key waits; also writes output.jsonl"
    )
    p.add_argument("--output-dir", type=Path, default=Path("."), help="where outputs go")
    p.add_argument(
        "--trt-cache-dir",
        type=Path,
        default=None,
        help="TensorRT engine cache (default: the HSC model's folder)",
    )
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    return p


@dataclass(slots=True)
class ViewState:
    """What the keys toggle."""

    show_ids: bool
    show_distance: bool
    running: bool = True


def frame_record(index: int, result: FrameResult) -> dict:
    """One output.jsonl line."""
    return {
        "frame": index,
        "latency_ms": {
            "detector": round(result.detector_ms, 3),
            "classifier": round(result.classifier_ms, 3),
        },
        "heads": [
            {
                "track_id": head.track_id,
                "box": list(head.box),
                "prob": round(head.prob, 6),
                "smiling": head.smiling,
                "label": head.label,
            }
            for head in result.heads
        ],
    }


def yolo_lines(result: FrameResult, shape: tuple[int, ...]) -> list[str]:
    h, w = shape[:2]
    lines = []
    for head in result.heads:
        x1, y1, x2, y2 = head.box
        cls = CLASS_IDS[head.detection.kind]
        cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return lines


def _visible(result: FrameResult, hidden_class_ids: list[int]) -> FrameResult:
    if not hidden_class_ids:
        return result
    heads = tuple(h for h in result.heads if CLASS_IDS[h.detection.kind] not in hidden_class_ids)
    return FrameResult(heads, result.detector_ms, result.classifier_ms)


def _handle_key(key: int, view: ViewState, pipeline: HeadSmilePipeline) -> None:
    key &= 0xFF
    if key in (KEY_ESC, ord("q")):
        view.running = False
    elif key == ord("r"):
        pipeline.set_tracking(not pipeline.tracking)
    elif key == ord("t"):
        view.show_ids = not view.show_ids
    elif key == ord("m"):
        view.show_distance = not view.show_distance


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        trt_cache = args.trt_cache_dir or (Path(args.hsc_model).parent if args.hsc_model else ".")
        int8 = args.inference_type == "int8"
        classifier = SmileClassifier(
            args.hsc_model,
            args.execution_provider,
            trt_cache_dir=trt_cache,
            trt_int8=int8,
            threshold=args.threshold,
        )
        detector = load_detector(
            args.model, args.execution_provider, args.object_score_threshold, trt_cache, int8
        )
        self.pipeline = HeadSmilePipeline(
            detector,
            classifier,
            tracking=not args.disable_tracking,
            long_history=args.long_history,
            short_history=args.short_history,
        )
        self.view = ViewState(
            show_ids=not args.disable_trackid_overlay,
            show_distance=not args.disable_head_distance_measurement,
        )
        self.output_dir = Path(args.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.fps = 0.0

    def annotate(self, frame: np.ndarray, result: FrameResult, show_fps: bool) -> np.ndarray:
        a = self.args
        return draw_frame(
            frame.copy(),
            _visible(result, a.disable_render_classids),
            self.fps if show_fps else None,
            line_width=a.bounding_box_line_width,
            show_ids=self.view.show_ids,
            horizontal_fov=a.camera_horizontal_fov if self.view.show_distance else None,
            face_mosaic=a.enable_face_mosaic,
        )

    def _tick(self, started: float) -> None:
        # Exponential average: steady on screen, follows load changes within a second or so.
        fps = 1.0 / max(time.perf_counter() - started, 1e-6)
        self.fps = fps if self.fps == 0 else 0.9 * self.fps + 0.1 * fps

    def _show(self, image: np.ndarray, wait_ms: int) -> None:
        if self.args.headless:
            return
        cv2.imshow(WINDOW, image)
        _handle_key(cv2.waitKey(wait_ms), self.view, self.pipeline)

    def run_video(self, source: str, jsonl) -> int:
        a = self.args
        try:
            capture = open_capture(source)
        except (FileNotFoundError, MediaError) as e:
            raise MediaError(f"{e} (-v takes a camera index such as 0, or a video file)") from e
        writer = None
        yolo_dir = self.output_dir / "output"
        if a.output_yolo_format_text:
            yolo_dir.mkdir(parents=True, exist_ok=True)
        count = 0
        try:
            for index, frame in enumerate(frames(capture)):
                if a.max_frames is not None and index >= a.max_frames:
                    break
                started = time.perf_counter()
                result = self.pipeline(frame)
                image = self.annotate(frame, result, show_fps=True)
                if writer is None and not a.disable_video_writer:
                    writer = self._open_writer(capture, frame.shape)
                if writer is not None:
                    writer.write(image)
                if jsonl is not None:
                    jsonl.write(json.dumps(frame_record(index, result)) + "\n")
                if a.output_yolo_format_text:
                    cv2.imwrite(str(yolo_dir / f"{index:08d}.png"), frame)
                    text = "\n".join(yolo_lines(result, frame.shape))
                    (yolo_dir / f"{index:08d}.txt").write_text(text + "\n" if text else "")
                count += 1
                self._tick(started)
                self._show(image, 1)
                if not self.view.running:
                    break
        finally:
            capture.release()
            if writer is not None:
                writer.release()
        return count

    def _open_writer(self, capture: cv2.VideoCapture, shape: tuple[int, ...]) -> cv2.VideoWriter:
        w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or shape[1]
        h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or shape[0]
        path = self.output_dir / "output.mp4"
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter.fourcc(*"mp4v"), capture_fps(capture), (w, h)
        )
        if not writer.isOpened():
            raise MediaError(f"cannot write {path} (mp4v); pass -dvw to skip output.mp4")
        return writer

    def run_images(self, directory: str, jsonl) -> int:
        a = self.args
        # Still images are unrelated to each other: no tracking, no smoothing.
        self.pipeline.set_tracking(False)
        out_dir = self.output_dir / "output"
        paths = list_images(directory)
        count = 0
        for index, path in enumerate(paths):
            if a.max_frames is not None and index >= a.max_frames:
                break
            frame = read_image(path)
            if frame is None:
                logger.warning("cannot read image %s; skipped", path)
                continue
            started = time.perf_counter()
            result = self.pipeline(frame)
            image = self.annotate(frame, result, show_fps=False)
            target = out_dir / path.relative_to(directory)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(target), image):
                logger.warning("cannot write %s", target)
            if a.output_yolo_format_text:
                text = "\n".join(yolo_lines(result, frame.shape))
                target.with_suffix(".txt").write_text(text + "\n" if text else "")
            if jsonl is not None:
                jsonl.write(json.dumps(frame_record(index, result)) + "\n")
            count += 1
            self._tick(started)
            self._show(image, 1 if a.disable_waitKey else 0)
            if not self.view.running:
                break
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
    try:
        demo = Demo(args)
        count = demo.run()
    except USER_ERRORS as e:
        # Input the user can fix; any other exception is a bug and keeps its traceback.
        print(f"error: {e}", file=sys.stderr)
        return 1
    logger.info("processed %d frame(s); outputs in %s", count, demo.output_dir.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
