"""Face detectors on real backgrounds: recall, false boxes, speed and smile accuracy.

    .venv/bin/python -m benchmarks.face_path.run                    # 500 frames, every setting
    .venv/bin/python -m benchmarks.face_path.run --frames 200 --only yunet
    .venv/bin/python -m benchmarks.face_path.run --calibrate        # fit YuNet box -> face box
    .venv/bin/python -m benchmarks.face_path.run --only yunet --widths 640 --threads 2 \\
        --thresholds 0.6 --min-faces 32 --landmark-check off     # the default, second look or not
    .venv/bin/python -m benchmarks.face_path.run --scenes v2 --split heldout --frames 300 \\
        --only yunet --widths 448 --one-thread-only --thresholds 0.5 --min-faces 32 \\
        --landmark-check off                                         # harder frames: ~15 s

v1 frames (640x480, the default) are built at run time from scikit-image's photographs with
leak-free FERPlus test faces pasted at 60-220 px (1-2 per frame), plus the astronaut
photograph's real face; a fifth of the frames hold no face. Every setting sees every frame, in
turn, frame by frame, so a change in the machine's load hits all of them alike. A detection
counts when its box overlaps a true face box with IoU >= 0.3 (one detection per face); every
other box is a false one. Smile accuracy is the shipped S model's decision on the crop the
contract cuts from each found face, against the FERPlus label; "direct" is its decision on the
original crops of the same faces. The load (`uptime`) before and after goes with the table.
A second table gives each setting's false boxes per frame by background photograph (frames
holding the astronaut count as "astronaut"), and how many of them lie on a true face (centre
inside its box, IoU under 0.3: the face found at the wrong size, or found twice).
`--scenes v2` builds `scenes.compose_scenes`'s frames instead (faces at 60-240 px, yawed,
rolled, occluded or unevenly lit, collages; `--split dev` or `heldout`, whose faces and
photographs dev never uses) and adds recall by face size and by condition, false boxes by
background (a collage under "collage") and smile F1 (found faces; all faces with a miss as not
smiling). The counting and the tables live in `benchmarks.face_path.report`. Results:
docs/face-path-benchmark.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from benchmarks.face_path.face_check import FaceCheck
from benchmarks.face_path.frames import (
    BenchFrame,
    compose_frames,
    leak_free_test_faces,
    skimage_photos,
)
from benchmarks.face_path.report import (
    HEADER,
    MIN_IOU,
    Tally,
    background_table,
    condition_table,
    f1_table,
    recall_figures,
    size_table,
    smile_f1,
)
from benchmarks.face_path.scenes import (
    COLLAGE,
    SCENES_VERSION,
    SPLIT_NAMES,
    SPLITS,
    compose_scenes,
    scene_photos,
    split_faces,
)
from benchmarks.support import FERPLUS, machine_line, print_figures, uptime
from hsc_infer import SmileClassifier
from hsc_infer.detectors import HaarFaceDetector, YuNetFaceDetector
from hsc_infer.detectors.base import iou
from hsc_infer.detectors.second_look import SecondLook
from hsc_infer.detectors.yuface_engine import YufaceSearch
from hsc_infer.detectors.yunet import DEFAULT_SECOND_LOOK, YuNetOutput, yunet_to_face


def haar_settings() -> dict[str, Callable[[], HaarFaceDetector]]:
    def haar(**kw):
        # Every setting spelled out from the old default, so rows keep their meaning when the
        # class's defaults change.
        settings = {"cascade": "default", "equalize": True, "min_neighbors": 5, **kw}
        return lambda: HaarFaceDetector(**settings)

    return {
        "haar default, 320 px, equalised (the old default)": haar(),
        "haar default, 320 px": haar(equalize=False),
        "haar default, 480 px, equalised": haar(detect_width=480),
        "haar default, 480 px": haar(detect_width=480, equalize=False),
        "haar default, full frame, equalised": haar(detect_width=None),
        "haar default, full frame": haar(detect_width=None, equalize=False),
        "haar default, 320 px, 8 neighbours": haar(min_neighbors=8, equalize=False),
        "haar alt2, 320 px, 3 neighbours (the Haar fallback)": haar(
            cascade="alt2", equalize=False, min_neighbors=3
        ),
        "haar alt2, 480 px": haar(cascade="alt2", detect_width=480, equalize=False),
    }


YUNET_WIDTHS = (160, 224, 256, 320, 384, 448, 480, 512, 640)
YUNET_THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
YUNET_MIN_FACES = (0, 32)
ONE_THREAD_WIDTHS = (320, 448, 480)  # also timed with one onnxruntime thread
FACE_CHECK_FLOOR = 0.3  # candidates the face check sees: none of the rows keeps a lower score


def yunet_name(
    width: int,
    threshold: float,
    min_face: int,
    threads: int | None = None,
    landmark_check: bool = False,
    second_look: bool = False,
    face_check: float | None = None,
    engine: str = "onnx",
) -> str:
    size = f"{width}x{width * 3 // 4}"
    name = f"yunet {size}, score >= {threshold:g}, min face {min_face} px"
    name += ", yuface" if engine == "yuface" else ""
    name += "" if threads is None else f", {threads} thread{'s' * (threads > 1)}"
    name += ", landmark check" if landmark_check else ""
    name += ", second look" if second_look else ""
    return name + ("" if face_check is None else f", face check >= {face_check:g}")


ENGINES = ("onnx", "yuface")


def thread_counts(width: int, args: argparse.Namespace) -> list[int]:
    """The thread counts YuNet runs at, at `width`."""
    if args.threads is not None:
        return list(args.threads)
    cores = os.cpu_count() or 1
    counts = [] if args.one_thread_only else [cores]
    if (width in ONE_THREAD_WIDTHS or args.one_thread_only) and 1 not in counts:
        counts.append(1)
    return counts


def yunet_detector(engine: str, width: int, threads: int) -> YuNetFaceDetector:
    """YuNet with every candidate kept (the rows apply their own thresholds), searching on
    onnxruntime or, for comparison, on the yuface wheel (OpenMP keeps a thread count once set,
    so each yuface search sets its own)."""
    detector = YuNetFaceDetector(0.0, width, min_face=0, threads=threads, second_look=None)
    if engine == "yuface":
        detector.search = YufaceSearch(threads)
    return detector


def later_stages(
    image: np.ndarray,
    raw: YuNetOutput,
    first_ms: float,
    detector: YuNetFaceDetector,
    looks: tuple[bool, ...],
    face_check: FaceCheck | None,
    face_check_thresholds: list[float],
) -> dict[tuple[bool, float | None], tuple[YuNetOutput, float]]:
    """YuNet's output after each combination of the later stages, with the ms it took in all:
    {(second look, face-check threshold or None): (output, ms)}. The face check runs once per
    output on every candidate scored >= 0.3 (the lowest threshold the rows use) and is then
    cut at each threshold."""
    second_look = DEFAULT_SECOND_LOOK or SecondLook()
    outputs = {}
    for look in looks:
        t = time.perf_counter()
        output = second_look.rescore(image, raw, detector.search) if look else raw
        ms = first_ms + (time.perf_counter() - t) * 1000
        outputs[look, None] = (output, ms)
        if face_check is None:
            continue
        t = time.perf_counter()
        todo = output.scores >= FACE_CHECK_FLOOR
        faces = np.array([yunet_to_face(b) for b in output.boxes[todo]]).reshape(-1, 4)
        probs = face_check.face_probs(image, faces)
        check_ms = (time.perf_counter() - t) * 1000
        for threshold in face_check_thresholds:
            scores = output.scores.copy()
            scores[np.flatnonzero(todo)[probs < threshold]] = 0.0
            outputs[look, threshold] = (replace(output, scores=scores), ms + check_ms)
    return outputs


def benchmark_frames(data: Path, count: int, seed: int) -> list[BenchFrame]:
    """The benchmark's frames: `count` frames (seed `seed`) with the leak-free FERPlus test faces
    shuffled by the same seed."""
    faces, labels = leak_free_test_faces(data)
    order = np.random.default_rng(seed).permutation(len(faces))
    faces, labels = [faces[i] for i in order], labels[order]
    return compose_frames(faces, labels, skimage_photos(), count, seed=seed)


def scene_frames(data: Path, count: int, seed: int, split: str) -> list[BenchFrame]:
    """`count` v2 frames of `split` (`scenes.compose_scenes`), seed `seed`: its half of the
    leak-free FERPlus test faces over its photographs."""
    faces, labels = split_faces(*leak_free_test_faces(data), split)
    return compose_scenes(faces, labels, scene_photos(split), split, count, seed=seed)


def calibrate(frames: list[BenchFrame], width: int) -> dict[str, float]:
    """Fit the YuNet box -> face box conversion (crops.yunet_to_face) on the true face boxes;
    prints the fit and returns its figures."""
    detector = YuNetFaceDetector(
        score_threshold=0.5, detect_width=width, min_face=0, landmark_check=False, second_look=None
    )
    sides, downs, lefts = [], [], []
    for frame in frames:
        raw = detector.raw(frame.image)
        keep = raw.scores >= 0.5
        for truth in frame.boxes:
            boxes = raw.boxes[keep]
            if not len(boxes):
                continue
            best = max(boxes, key=lambda b: iou(b, truth))
            if iou(best, truth) < MIN_IOU:
                continue
            w, h = best[2] - best[0], best[3] - best[1]
            sides.append((truth[2] - truth[0]) / h)
            downs.append(((truth[1] + truth[3]) / 2 - (best[1] + best[3]) / 2) / h)
            lefts.append(((truth[0] + truth[2]) / 2 - (best[0] + best[2]) / 2) / w)
    print(
        f"YuNet {width} px, {len(sides)} faces: true side / YuNet height median "
        f"{np.median(sides):.3f} (IQR {np.percentile(sides, 25):.3f}-"
        f"{np.percentile(sides, 75):.3f}); true centre below YuNet's, in YuNet heights, median "
        f"{np.median(downs):.3f}; right of it, in widths, median {np.median(lefts):.3f}"
    )
    return {
        "faces": len(sides),
        "side_per_yunet_height_median": np.median(sides),
        "side_per_yunet_height_p25": np.percentile(sides, 25),
        "side_per_yunet_height_p75": np.percentile(sides, 75),
        "centre_below_in_heights_median": np.median(downs),
        "centre_right_in_widths_median": np.median(lefts),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("haar", "yunet"), default=None)
    parser.add_argument("--widths", type=int, nargs="+", default=list(YUNET_WIDTHS))
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(YUNET_THRESHOLDS))
    parser.add_argument("--min-faces", type=int, nargs="+", default=list(YUNET_MIN_FACES))
    parser.add_argument(
        "--one-thread-only",
        action="store_true",
        help="time YuNet with one onnxruntime thread only, at every width",
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="YuNet rows at each of these thread counts, at every width (default: one per core "
        f"at every width, and one at {', '.join(map(str, ONE_THREAD_WIDTHS))} px)",
    )
    parser.add_argument(
        "--engines",
        choices=ENGINES,
        nargs="+",
        default=["onnx"],
        help="YuNet on onnxruntime (the product's) and/or on the yuface wheel (libfacedetection's "
        "C++, for comparison), frame by frame side by side",
    )
    parser.add_argument(
        "--landmark-check",
        choices=("off", "on", "both"),
        default="both",
        help="YuNet rows without and/or with the landmark layout check",
    )
    parser.add_argument(
        "--second-look",
        choices=("off", "on", "both"),
        default="both",
        help="YuNet rows without and/or with the second look at unsure candidates (on: the "
        "detector's default SecondLook)",
    )
    parser.add_argument(
        "--face-check-thresholds",
        type=float,
        nargs="*",
        default=[],
        help="also rows with the face check at each of these face probabilities",
    )
    parser.add_argument(
        "--face-check-model",
        type=Path,
        default=Path("runs/face_check_p.onnx"),
        help="the face check's ONNX (configs/face_check_p.json, exported)",
    )
    parser.add_argument("--model", default=None, help="HSC model (default: the shipped S)")
    parser.add_argument("--calibrate", action="store_true", help="fit YuNet's box conversion")
    parser.add_argument(
        "--scenes",
        choices=("v1", "v2"),
        default="v1",
        help=f"v1: frontal faces on 16 photographs; v2: {SCENES_VERSION} "
        "(benchmarks.face_path.scenes)",
    )
    parser.add_argument(
        "--split", choices=SPLIT_NAMES, default=None, help="v2's faces and photographs (dev)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.split is not None and args.scenes != "v2":
        parser.error("--split goes with --scenes v2")
    split = args.split or "dev"

    if args.scenes == "v1":
        frames = benchmark_frames(args.data, args.frames, args.seed)
    else:
        frames = scene_frames(args.data, args.frames, args.seed, split)
    if args.calibrate:
        print(machine_line())
        fits = {width: calibrate(frames, width) for width in args.widths}
        print_figures("benchmarks.face_path.run", {"args": vars(args), "calibration": fits})
        return

    # One onnxruntime thread: idle pool threads spin after each run and would slow whichever
    # detector runs next (its time is not measured here).
    classifier = SmileClassifier(args.model, intra_op_threads=1)
    haar = {} if args.only == "yunet" else {k: f() for k, f in haar_settings().items()}
    yunets = {}
    checks = {"off": (False,), "on": (True,), "both": (False, True)}[args.landmark_check]
    if args.only != "haar":
        for engine, width in itertools.product(args.engines, args.widths):
            for threads in thread_counts(width, args):
                yunets[engine, width, threads] = yunet_detector(engine, width, threads)
    looks = {"off": (False,), "on": (True,), "both": (False, True)}[args.second_look]
    face_check = FaceCheck(args.face_check_model) if args.face_check_thresholds else None
    tallies: dict[str, Tally] = {}
    before = uptime()
    start = time.perf_counter()
    for frame in frames:
        direct = (
            [bool(p >= classifier.threshold) for p in classifier.predict(list(frame.crops))]
            if frame.crops
            else []
        )
        for name, detector in haar.items():
            t = time.perf_counter()
            found = detector(frame.image)
            ms = (time.perf_counter() - t) * 1000
            tallies.setdefault(name, Tally()).add(frame, found, ms, classifier, direct)
        for (engine, width, threads), detector in yunets.items():
            t = time.perf_counter()
            raw = detector.raw(frame.image)
            first_ms = (time.perf_counter() - t) * 1000
            outputs = later_stages(
                frame.image, raw, first_ms, detector, looks, face_check, args.face_check_thresholds
            )
            for threshold, min_face, check, (look, fc) in itertools.product(
                args.thresholds, args.min_faces, checks, outputs
            ):
                detector.score_threshold, detector.min_face = threshold, min_face
                detector.landmark_check = check
                output, ms = outputs[look, fc]
                t = time.perf_counter()
                found = detector.postprocess(output, frame.image.shape)
                ms += (time.perf_counter() - t) * 1000
                shown_threads = None if args.threads is None and threads != 1 else threads
                name = yunet_name(
                    width, threshold, min_face, shown_threads, check, look, fc, engine
                )
                tallies.setdefault(name, Tally()).add(frame, found, ms, classifier, direct)
    seconds = time.perf_counter() - start
    after = uptime()

    faces_total = sum(len(f.boxes) for f in frames)
    empty = sum(not f.boxes for f in frames)
    scenes = "" if args.scenes == "v1" else f"{SCENES_VERSION}, {split}: "
    print(
        f"{scenes}{len(frames)} frames 640x480 ({empty} without a face), {faces_total} faces "
        f"(seed {args.seed}); {date.today()}; {machine_line()}; "
        f"OpenCV {cv2.__version__}; {seconds:.0f} s"
    )
    print(f"load before: {before}\nload after:  {after}\n")
    print(HEADER)
    for name, tally in tallies.items():
        print(tally.row(name))
    if args.scenes == "v1":
        print("\nFalse boxes per frame by background photograph:\n")
        print(background_table(tallies))
    else:
        print_v2_tables(tallies, split)
    settings = {name: tally.figures() for name, tally in tallies.items()}
    if args.scenes == "v2":
        for name, tally in tallies.items():
            settings[name].update(recall_figures(tally), smile_f1=asdict(smile_f1(tally.results)))
    print_figures(
        "benchmarks.face_path.run",
        {
            "args": vars(args),
            "scenes": "v1" if args.scenes == "v1" else SCENES_VERSION,
            "split": None if args.scenes == "v1" else split,
            "frames": len(frames),
            "frames_without_a_face": empty,
            "faces": faces_total,
            "opencv": cv2.__version__,
            "seconds": seconds,
            "load_before": before,
            "load_after": after,
            "settings": settings,
        },
    )


def print_v2_tables(tallies: dict[str, Tally], split: str) -> None:
    """The v2 run's tables beyond the main one: recall by face size and by condition, false
    boxes by background (a collage under "collage"), and smile F1."""
    columns = (*SPLITS[split].backgrounds, SPLITS[split].face_photo, COLLAGE)
    print("\nRecall by face size (the true box's side, px):\n")
    print(size_table(tallies))
    print("\nRecall by condition:\n")
    print(condition_table(tallies))
    print("\nFalse boxes per frame by background photograph:\n")
    print(background_table(tallies, columns))
    print("\nSmile F1 (the model on the crop the contract cuts from each found face):\n")
    print(f1_table(tallies))


if __name__ == "__main__":
    main()
