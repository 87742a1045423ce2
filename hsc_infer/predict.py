"""Batch smile prediction over images, videos and folders, to CSV or JSONL.

    python -m hsc_infer.predict crops/ -hm hsc_s_48x48.onnx --output preds.csv
    python -m hsc_infer.predict clip.mp4 photos/ -hm m.onnx --detect -m deimv2.onnx -o out.jsonl

Images are taken as crops (one row each, no frame or box) unless `--detect`; videos always go
through the detector (one row per head per frame). Folders are searched recursively. Unreadable
files are reported on stderr and skipped; the exit status is then 1. Input that stops the run
(a missing or unusable model, a bad flag value) is one `error:` line and exit status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.detectors import Detection, Detector, load_detector
from hsc_infer.detectors.yunet import MAX_BATCH
from hsc_infer.errors import USER_ERRORS, MediaError
from hsc_infer.frame import classify_detections, detect_each
from hsc_infer.inputs import expand_inputs, frames, is_video, open_capture, read_image
from hsc_infer.providers import add_model_arguments

COLUMNS = ("path", "frame", "x1", "y1", "x2", "y2", "prob_smiling", "smiling")
CROP_BATCH = 64  # whole-image crops per onnxruntime run


@dataclass(frozen=True, slots=True)
class Prediction:
    path: str
    frame: int | None  # video frame index; None for a still image
    x1: int | None  # box of the crop classified; None for a whole-image crop
    y1: int | None
    x2: int | None
    y2: int | None
    prob_smiling: float
    smiling: bool


@dataclass
class FaceSummary:
    """What the detector found over a run, for the closing line: a photograph where no face
    was found gives no row, so the count is said here."""

    searched: int = 0  # images and video frames searched
    faces: int = 0
    smiling: int = 0
    without_face: list[str] = field(default_factory=list)  # images (not frames) with none

    def add(self, where: str, predictions: list[Prediction], still: bool) -> None:
        self.searched += 1
        self.faces += len(predictions)
        self.smiling += sum(p.smiling for p in predictions)
        if still and not predictions:
            self.without_face.append(where)

    def line(self) -> str:
        text = f"{self.faces} face(s) found in {self.searched} image(s) or frame(s), "
        text += f"{self.smiling} smiling"
        if self.without_face:
            shown = ", ".join(self.without_face[:5])
            more = f" and {len(self.without_face) - 5} more" if len(self.without_face) > 5 else ""
            text += f"; no face in {len(self.without_face)} image(s): {shown}{more}"
        return text


class Progress:
    """A one-line counter on stderr, redrawn at most every 0.2 s, shown only for long inputs."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, min_total: int = 20) -> None:
        self.total, self.stream, self.enabled = total, stream, total >= min_total
        self.done, self._last = 0, 0.0

    def advance(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.2 or self.done == self.total):
            self._last = now
            self.stream.write(f"\r[{self.done}/{self.total}] {note[-60:]:<60}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def predict_crops(
    classifier: SmileClassifier, paths: list[Path], progress: Progress, errors: list[str]
) -> Iterator[Prediction]:
    """Whole images as crops, batched."""
    for start in range(0, len(paths), CROP_BATCH):
        loaded = []
        for path in paths[start : start + CROP_BATCH]:
            image = read_image(path)
            progress.advance(str(path))
            if image is None:
                errors.append(f"cannot read image: {path}")
            else:
                loaded.append((path, image))
        if not loaded:
            continue
        probs = classifier.predict([image for _, image in loaded])
        for (path, _), prob in zip(loaded, probs, strict=True):
            yield Prediction(
                str(path),
                None,
                None,
                None,
                None,
                None,
                float(prob),
                bool(prob >= classifier.threshold),
            )


def _classified(
    path: Path,
    frame_index: int | None,
    frame: np.ndarray,
    detections: list[Detection],
    classifier: SmileClassifier,
    summary: FaceSummary,
) -> list[Prediction]:
    _, boxes, probs, _ = classify_detections(frame, detections, classifier)
    found = [
        Prediction(str(path), frame_index, *box, float(prob), bool(prob >= classifier.threshold))
        for box, prob in zip(boxes, probs, strict=True)
    ]
    summary.add(str(path), found, still=frame_index is None)
    return found


def _frame_predictions(
    path: Path,
    frame_index: int | None,
    frame: np.ndarray,
    detector: Detector,
    classifier: SmileClassifier,
    summary: FaceSummary,
) -> list[Prediction]:
    return _classified(path, frame_index, frame, detector(frame), classifier, summary)


def predict_detected_images(
    paths: list[Path],
    detector: Detector,
    classifier: SmileClassifier,
    errors: list[str],
    summary: FaceSummary,
    progress: Progress,
    batch: int = 1,
) -> Iterator[Prediction]:
    """Photographs read `batch` at a time, and searched together where the detector can (YuNet
    searches same-sized ones in runs of its `batch_size`)."""
    for start in range(0, len(paths), batch):
        chunk = []
        for path in paths[start : start + batch]:
            image = read_image(path)
            if image is None:
                errors.append(f"cannot read image: {path}")
            else:
                chunk.append((path, image))
        found = detect_each([image for _, image in chunk], detector)
        for (path, image), detections in zip(chunk, found, strict=True):
            yield from _classified(path, None, image, detections, classifier, summary)
        for path in paths[start : start + batch]:
            progress.advance(str(path))


def predict_video(
    path: Path,
    detector: Detector,
    classifier: SmileClassifier,
    errors: list[str],
    summary: FaceSummary,
) -> Iterator[Prediction]:
    try:
        capture = open_capture(path)
    except (FileNotFoundError, MediaError) as e:
        errors.append(f"cannot read video: {path} ({e})")
        return
    try:
        for index, frame in enumerate(frames(capture)):
            yield from _frame_predictions(path, index, frame, detector, classifier, summary)
    finally:
        capture.release()


def write_predictions(predictions: Iterator[Prediction], stream: TextIO, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        for p in predictions:
            writer.writerow(["" if v is None else v for v in (getattr(p, c) for c in COLUMNS)])
            count += 1
    else:
        for p in predictions:
            stream.write(json.dumps(asdict(p)) + "\n")
            count += 1
    return count


def write_predictions_file(predictions: Iterator[Prediction], path: Path, fmt: str) -> int:
    """Write beside `path` under a temporary name, renamed over it once complete: a run that
    stops part-way (a model that fails on a batch, Ctrl-C) leaves an earlier file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "w", newline="" if fmt == "csv" else None) as stream:
            count = write_predictions(predictions, stream, fmt)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hsc_infer.predict", description=__doc__.split("\n")[0]
    )
    p.add_argument("inputs", nargs="+", help="images, videos or folders")
    # Mirrored crops raise S's FERPlus-shift F1 from 0.862 to 0.870 and P's from 0.676 to 0.689
    # (docs/model-zoo.md); a photograph is classified once, so the extra half-millisecond per
    # face is worth it. The demo, which averages over frames, keeps it off.
    add_model_arguments(p, flip_test=True)
    p.add_argument("--threshold", type=float, default=None, help="override the model's threshold")
    p.add_argument("--detect", action="store_true", help="find heads in images too")
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help="detector: yunet, haar or a DEIMv2 wholebody34 ONNX (default: yunet, the "
        "shipped ONNX model)",
    )
    p.add_argument(
        "-ost",
        "--object_score_threshold",
        type=float,
        default=None,
        help="detector score threshold (default: the detector's own)",
    )
    p.add_argument(
        "--detect-batch",
        type=int,
        default=1,
        metavar="N",
        help="photographs of one size YuNet searches in one run, 1 to 8 (default 1: on a CPU "
        "one per run was the fastest; on a GPU provider more may pay)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="FILE.csv or FILE.jsonl (default: CSV on stdout)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    fmt = "jsonl" if args.output is not None and args.output.suffix.lower() == ".jsonl" else "csv"
    if args.output is not None and args.output.suffix.lower() not in (".csv", ".jsonl"):
        raise MediaError(f"--output must end in .csv or .jsonl, got {args.output}")
    classifier = SmileClassifier(
        args.hsc_model,
        args.execution_provider,
        threshold=args.threshold,
        flip_test=args.flip_test,
    )
    paths, rejected = expand_inputs(args.inputs)
    errors = [f"not found or not an image/video: {p}" for p in rejected]
    videos = [p for p in paths if is_video(p)]
    images = [p for p in paths if not is_video(p)]
    if not 1 <= args.detect_batch <= MAX_BATCH:
        raise MediaError(f"--detect-batch must be 1 to {MAX_BATCH}, got {args.detect_batch}")
    detector = (
        load_detector(args.model, args.execution_provider, args.object_score_threshold)
        if (videos or args.detect)
        else None
    )
    if hasattr(detector, "batch_size"):
        detector.batch_size = args.detect_batch
    progress = Progress(len(paths))
    summary = FaceSummary()

    def predictions() -> Iterator[Prediction]:
        if args.detect:
            yield from predict_detected_images(
                images, detector, classifier, errors, summary, progress, args.detect_batch
            )
        else:
            yield from predict_crops(classifier, images, progress, errors)
        for path in videos:
            yield from predict_video(path, detector, classifier, errors, summary)
            progress.advance(str(path))

    if args.output is None:
        count = write_predictions(predictions(), sys.stdout, fmt)
    else:
        count = write_predictions_file(predictions(), args.output, fmt)
    progress.close()
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if detector is not None:
        print(summary.line(), file=sys.stderr)
    print(f"{count} prediction(s) from {len(paths)} file(s)", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
