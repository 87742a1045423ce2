"""`python -m hsc_infer.predict --detect` over a folder of photographs: images per second with
YuNet searching one photograph per run (predict's default), several same-sized ones per run
(predict's `--detect-batch N`), and on the yuface engine (the detector before the ONNX port),
side by side.

    .venv/bin/python -m benchmarks.inference.predict_detect                 # 96 photographs
    .venv/bin/python -m benchmarks.inference.predict_detect --photos 48 --rounds 2 --threads 1 2
    .venv/bin/python -m benchmarks.inference.predict_detect --engines onnx --batches 1 --flip on off

The photographs are the face-path benchmark's v2 held-out scenes (640x480, FERPlus faces pasted
over real photographs), written as JPEG files to a temporary folder. Each setting runs predict's
own loop (`predict_detected_images`: read, detect, crop, classify the shipped S, each crop with its
mirror image unless `--flip off`) over the whole folder, settings interleaved round by round; the
median round is shown.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from benchmarks.face_path.frames import leak_free_test_faces
from benchmarks.face_path.scenes import compose_scenes, scene_photos, split_faces
from benchmarks.support import FERPLUS, machine_line, print_figures, uptime
from hsc_infer import SmileClassifier
from hsc_infer.detectors import YuNetFaceDetector
from hsc_infer.detectors.yuface_engine import YufaceSearch
from hsc_infer.detectors.yunet import DEFAULT_THREADS
from hsc_infer.predict import FaceSummary, Progress, predict_detected_images


@dataclass(frozen=True)
class Setting:
    engine: str  # "onnx" or "yuface"
    batch: int  # photographs per detector run (yuface: always 1)
    threads: int
    flip_test: bool = True  # predict's default: each crop with its mirror image

    def label(self) -> str:
        flip = "" if self.flip_test else ", --no-flip_test"
        return f"{self.engine}, {self.batch} per run, {self.threads} thread(s){flip}"

    def detector(self) -> YuNetFaceDetector:
        detector = YuNetFaceDetector(threads=self.threads)
        detector.batch_size = self.batch
        if self.engine == "yuface":
            detector.search = YufaceSearch(self.threads)
            detector.detect_batch = None  # one photograph at a time, as before the port
        return detector


def write_photographs(folder: Path, count: int, seed: int) -> list[Path]:
    faces, labels = split_faces(*leak_free_test_faces(FERPLUS), "heldout")
    frames = compose_scenes(faces, labels, scene_photos("heldout"), "heldout", count, seed=seed)
    paths = []
    for index, frame in enumerate(frames):
        path = folder / f"{index:04d}.jpg"
        cv2.imwrite(str(path), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def run_once(setting: Setting, paths: list[Path], classifier: SmileClassifier) -> tuple[float, int]:
    """(seconds for the folder, faces found), detector and classifier built beforehand."""
    detector = setting.detector()
    summary, errors = FaceSummary(), []
    start = time.perf_counter()
    progress = Progress(len(paths), min_total=10**9)  # silent
    found = sum(
        1
        for _ in predict_detected_images(
            paths, detector, classifier, errors, summary, progress, setting.batch
        )
    )
    seconds = time.perf_counter() - start
    assert not errors, errors
    return seconds, found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=96, help="photographs in the folder")
    parser.add_argument("--rounds", type=int, default=3, help="runs per setting, interleaved")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[DEFAULT_THREADS],
        help=f"the detector's threads (default: the product's, {DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--engines", nargs="+", choices=("onnx", "yuface"), default=["onnx", "yuface"]
    )
    parser.add_argument(
        "--flip",
        nargs="+",
        choices=("on", "off"),
        default=["on"],
        help="mirrored crops too (predict's default, on) or not (--no-flip_test)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line())
    settings = [
        Setting(engine, batch, threads, flip == "on")
        for engine in args.engines
        for batch in (args.batches if engine == "onnx" else [1])
        for threads in args.threads
        for flip in args.flip
    ]
    # Built once and warm for every timed run: loading a model is not a per-photograph cost.
    classifiers = {
        flip: SmileClassifier(intra_op_threads=1, flip_test=flip)
        for flip in {setting.flip_test for setting in settings}
    }
    seconds: dict[Setting, list[float]] = {s: [] for s in settings}
    faces: dict[Setting, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photographs(Path(tmp), args.photos, args.seed)
        before = uptime()
        for _ in range(args.rounds):
            for setting in settings:
                classifier = classifiers[setting.flip_test]
                wall, faces[setting] = run_once(setting, paths, classifier)
                seconds[setting].append(wall)
        after = uptime()
    print(
        f"predict --detect over {len(paths)} photographs 640x480 (v2 held-out scenes, JPEG); "
        f"{date.today()}; {args.rounds} round(s), median shown"
    )
    print(f"load before: {before}\nload after:  {after}\n")
    print("| setting | s | images/s | faces found |")
    print("|---|---|---|---|")
    rows = []
    for setting in settings:
        wall = float(np.median(seconds[setting]))
        print(f"| {setting.label()} | {wall:.2f} | {len(paths) / wall:.1f} | {faces[setting]} |")
        rows.append(
            {
                "engine": setting.engine,
                "batch": setting.batch,
                "threads": setting.threads,
                "flip_test": setting.flip_test,
                "seconds": wall,
                "images_per_s": len(paths) / wall,
                "faces_found": faces[setting],
            }
        )
    print_figures(
        "benchmarks.inference.predict_detect",
        {
            "args": vars(args),
            "photos": len(paths),
            "load_before": before,
            "load_after": after,
            "settings": rows,
        },
    )


if __name__ == "__main__":
    main()
