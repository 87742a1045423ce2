"""The demo's command line: the reference's flags, plus ours (--headless, --mirror, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hsc_infer.demo.smoothing import LONG_HISTORY_SIZE, SHORT_HISTORY_SIZE
from hsc_infer.demo.tracking import CONFIRM_HITS, CONFIRM_SLACK, KEEP_MISSED
from hsc_infer.detectors import DEIMV2_SCORE_THRESHOLD
from hsc_infer.detectors.yunet import DEFAULT_SCORE_THRESHOLD as YUNET_SCORE_THRESHOLD
from hsc_infer.providers import add_model_arguments

# Detector runs in video mode: every 3rd frame, boxes carried by optical flow in between. On
# camera-like clips (benchmarks/face_path/run_clips.py, 2026-12-06) recall stays within a point
# from every frame to every 4th, and with confirmation a new face shows 3 frames (100 ms at 30
# FPS) after it appears. With YuNet on onnxruntime, on its own thread, the demo on a two-face clip
# ran at 173 FPS detecting every 2nd frame, 195 every 3rd and 192 every 4th (2-core Intel Xeon,
# 2026-12-07, `python -m benchmarks.inference.demo --wall`, start-up included).
DEFAULT_DETECT_EVERY = 3


def _at_least_two(value: str) -> int:
    number = int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {number}")
    return number


def _not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {number}")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {number}")
    return number


# Flags that only the DEIMv2 wholebody34 rendering can act on: (dest, default).
WHOLEBODY_FLAGS = {
    "-ast": ("attribute_score_threshold", 0.70),
    "-kst": ("keypoint_threshold", 0.30),
    "-kdm": ("keypoint_drawing_mode", "dot"),
    "-ebm": ("enable_bone_drawing_mode", False),
    "-dnm": ("disable_generation_identification_mode", False),
    "-dgm": ("disable_gender_identification_mode", False),
    "-dlr": ("disable_left_and_right_hand_identification_mode", False),
    "-dhm": ("disable_headpose_identification_mode", False),
}


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hsc_infer.demo", description=description)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "-v",
        "--video",
        help="camera index (0, 1, ...; -1: the first camera found), stream URL (rtsp://, "
        "http://) or video file",
    )
    source.add_argument(
        "-i", "--images_dir", help="folder of images (jpg, jpeg, png, bmp, webp; recursive)"
    )
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help="detector: yunet (faces, CNN), haar (faces, OpenCV cascade) or a DEIMv2 "
        "wholebody34 ONNX file (heads); default: yunet (the shipped ONNX model)",
    )
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
        default=None,
        help=f"detector score threshold (default: DEIMv2 {DEIMV2_SCORE_THRESHOLD}, YuNet "
        f"{YUNET_SCORE_THRESHOLD}; Haar has none)",
    )
    p.add_argument(
        "-ast",
        "--attribute_socre_threshold",  # the reference's spelling, kept beside the right one
        "--attribute_score_threshold",
        dest="attribute_score_threshold",
        type=float,
        default=0.70,
        help="DEIMv2 wholebody34: attribute score threshold (generation, gender, head pose, "
        "left/right hand)",
    )
    p.add_argument(
        "-kst",
        "--keypoint_threshold",
        type=float,
        default=0.30,
        help="DEIMv2 wholebody34: keypoint score threshold",
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
        help="DEIMv2 wholebody34: keypoints as dots, boxes or both (key k cycles)",
    )
    for short, long, what in (
        ("-ebm", "--enable_bone_drawing_mode", "draw bones between keypoints (key b)"),
        ("-dnm", "--disable_generation_identification_mode", "no adult/child (key n)"),
        ("-dgm", "--disable_gender_identification_mode", "no male/female (key g)"),
        ("-dlr", "--disable_left_and_right_hand_identification_mode", "no left/right (key h)"),
        ("-dhm", "--disable_headpose_identification_mode", "no head pose (key p)"),
    ):
        p.add_argument(short, long, action="store_true", help=f"DEIMv2 wholebody34: {what}")
    p.add_argument(
        "-drc",
        "--disable_render_classids",
        type=int,
        nargs="*",
        default=[],
        help="class ids not to draw (7 head, 16 face)",
    )
    p.add_argument("-efm", "--enable_face_mosaic", action="store_true", help="pixelate faces")
    p.add_argument(
        "-dtk",
        "--disable_tracking",
        action="store_true",
        help="hide track ids (key r); tracking and smoothing go on underneath",
    )
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
    p.add_argument(
        "--mirror", action="store_true", help="flip video frames left to right (a webcam mirror)"
    )
    p.add_argument(
        "--detect-every",
        type=_positive,
        default=DEFAULT_DETECT_EVERY,
        help="run the detector on every Nth video frame and move its boxes with the image in "
        f"between (default {DEFAULT_DETECT_EVERY}; 1: every frame)",
    )
    p.add_argument(
        "--confirm-hits",
        metavar="K",
        type=_positive,
        default=CONFIRM_HITS,
        help="show a new face only once the detector has found it on K of its first "
        f"K + {CONFIRM_SLACK} runs: hides a box the detector draws for under K runs, and "
        f"delays a new face by K - 1 runs (default {CONFIRM_HITS}; 1: every detection at once)",
    )
    p.add_argument(
        "--keep-missed",
        metavar="M",
        type=_not_negative,
        default=KEEP_MISSED,
        help="keep a shown face on screen, at its last box, for up to M frames after "
        f"the detector loses it (default {KEEP_MISSED})",
    )
    p.add_argument(
        "--detector-width",
        type=_positive,
        default=None,
        help="width YuNet searches a frame at (default 640: a 640x480 frame as it is; 512 is "
        "about a third faster and finds fewer faces under 90 px)",
    )
    p.add_argument(
        "--detector-threads",
        type=_positive,
        default=None,
        help="onnxruntime CPU threads for YuNet (default 2, a pool that does not spin)",
    )
    p.add_argument(
        "--detector-thread",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the face detector on its own thread, started on each frame as it is read, "
        "while the loop classifies, draws and writes (video; not with --no-io-threads, nor with "
        "a DEIMv2 model, whose rows the whole-body view reads)",
    )
    p.add_argument(
        "--no-io-threads",
        dest="io_threads",
        action="store_false",
        help="read and write video on the main thread, and detect there too (by default they "
        "overlap the compute)",
    )
    return p
