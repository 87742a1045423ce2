"""Labelled head crops from videos named smiling* / no_smiling* (the reference's real-data prep).

Every Nth frame of each video, the best head box goes to
OUTPUT/<smiling|no_smiling>/<video_stem>_f<frame:06d>.png: the name `build_parquet` parses back
into video_id (the group, so frames of one video never straddle splits) and timestamp.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.crops import clamp_box, crop, face_to_head
from hsc_infer.detectors import Box, Detection, Detector
from hsc_jax import atomic
from hsc_jax.data.errors import DatasetError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
# no_smiling first: the order that stays right even if a label ever became another's prefix.
LABEL_PREFIXES = ("no_smiling", "smiling")
FRAME_NAME = "{stem}_f{frame:06d}.png"
SCORE_THRESHOLD = 0.35  # the reference's head score threshold


@dataclass(frozen=True, slots=True)
class VideoJob:
    path: Path
    label: str  # "smiling" or "no_smiling"


@dataclass(frozen=True, slots=True)
class VideoStats:
    video: str  # file name
    label: str
    frames: int  # frames read
    sampled: int  # frames given to the detector
    no_head: int  # sampled frames without a head at or above the threshold
    out_of_range: int  # best boxes with a side outside [min, max] pixels
    written: int  # crops written (or that would be, in a dry run)
    existing: int  # crops already there and kept


@dataclass(frozen=True)
class CropReport:
    output_dir: Path
    videos: tuple[VideoStats, ...]
    skipped_videos: tuple[str, ...]  # video files whose names carry no label
    min_dimension: int
    max_dimension: int
    dry_run: bool

    def total(self, field: str) -> int:
        return sum(getattr(v, field) for v in self.videos)

    def format(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        per_label = Counter()
        for v in self.videos:
            per_label[v.label] += v.written
        lines = [f"{verb} {self.total('written')} crops to {self.output_dir}"]
        lines += [f"  {label:<11} {per_label[label]}" for label in ("smiling", "no_smiling")]
        lines.append(
            f"{len(self.videos)} videos, {self.total('frames')} frames read, "
            f"{self.total('sampled')} sampled, {self.total('no_head')} without a head"
        )
        if self.total("out_of_range"):
            lines.append(
                f"dropped {self.total('out_of_range')} crops with a side outside "
                f"[{self.min_dimension}, {self.max_dimension}] px"
            )
        if self.total("existing"):
            lines.append(
                f"kept {self.total('existing')} existing crops (--overwrite replaces them)"
            )
        if self.skipped_videos:
            lines.append(
                f"skipped {len(self.skipped_videos)} videos not named smiling* / no_smiling*: "
                + ", ".join(self.skipped_videos)
            )
        return "\n".join(lines)


def video_label(name: str) -> str | None:
    """'no_smiling_01.mp4' -> 'no_smiling', 'Smiling2.avi' -> 'smiling', else None."""
    lowered = name.lower()
    return next((p for p in LABEL_PREFIXES if lowered.startswith(p)), None)


def find_videos(input_dir: Path) -> tuple[list[VideoJob], list[str]]:
    """Labelled videos directly in `input_dir`, and the names of unlabelled ones."""
    jobs, skipped = [], []
    for path in sorted(input_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        label = video_label(path.name)
        if label is None:
            skipped.append(path.name)
        else:
            jobs.append(VideoJob(path, label))
    return jobs, skipped


def best_head_box(
    detections: list[Detection], frame_shape: tuple[int, ...], score_threshold: float
) -> Box | None:
    """The highest-scoring detection as a head box in pixels; faces are grown to heads."""
    # Detectors plugged in from elsewhere may not apply the threshold themselves.
    kept = [d for d in detections if d.score >= score_threshold]
    if not kept:
        return None
    best = max(kept, key=lambda d: d.score)
    if best.kind == "face":
        return clamp_box(face_to_head(best.box), frame_shape)
    return clamp_box(best.box, frame_shape)


def video_frames(
    capture: cv2.VideoCapture, frame_step: int
) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, frame) for every frame from 0; frame is None except every `frame_step`-th."""
    index = 0
    while True:
        if index % frame_step == 0:
            ok, frame = capture.read()
        else:  # grab only: skips decoding into an image we would not use
            ok, frame = capture.grab(), None
        if not ok:
            return
        yield index, frame
        index += 1


def open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DatasetError(f"cannot read video {path}")
    return capture


def check_readable(path: Path) -> None:
    """Fail before any crop is written rather than halfway through the set."""
    capture = open_video(path)
    try:
        ok, _ = capture.read()
    finally:
        capture.release()
    if not ok:
        raise DatasetError(f"cannot read video {path}: no frame decodes")


def write_png(path: Path, image: np.ndarray) -> None:
    """Through a temporary name, so an interrupted run leaves no half file that reruns keep."""
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise DatasetError(f"cannot encode a crop for {path}")
    atomic.write_bytes(path, buffer.tobytes())


def in_range(box: Box, min_dimension: int, max_dimension: int) -> bool:
    width, height = box[2] - box[0], box[3] - box[1]
    return all(min_dimension <= side <= max_dimension for side in (width, height))


def crop_video(
    job: VideoJob,
    output_dir: Path,
    detector: Detector,
    frame_step: int,
    min_dimension: int,
    max_dimension: int,
    score_threshold: float,
    dry_run: bool,
    overwrite: bool,
) -> VideoStats:
    counts = Counter()
    target_dir = output_dir / job.label
    capture = open_video(job.path)
    try:
        for index, frame in video_frames(capture, frame_step):
            counts["frames"] += 1
            if frame is None:
                continue
            counts["sampled"] += 1
            box = best_head_box(detector(frame), frame.shape, score_threshold)
            if box is None:
                counts["no_head"] += 1
                continue
            if not in_range(box, min_dimension, max_dimension):
                counts["out_of_range"] += 1
                continue
            target = target_dir / FRAME_NAME.format(stem=job.path.stem, frame=index)
            if target.exists() and not overwrite:
                counts["existing"] += 1
                continue
            counts["written"] += 1
            if not dry_run:
                target_dir.mkdir(parents=True, exist_ok=True)
                write_png(target, crop(frame, box))
    finally:
        capture.release()
    return VideoStats(
        video=job.path.name,
        label=job.label,
        frames=counts["frames"],
        sampled=counts["sampled"],
        no_head=counts["no_head"],
        out_of_range=counts["out_of_range"],
        written=counts["written"],
        existing=counts["existing"],
    )


def check_arguments(
    input_dir: Path, output_dir: Path, frame_step: int, min_dimension: int, max_dimension: int
) -> None:
    if not input_dir.is_dir():
        raise DatasetError(f"--input-dir {input_dir} is not a folder")
    if output_dir.exists() and not output_dir.is_dir():
        raise DatasetError(f"--output-dir {output_dir} exists and is not a folder")
    if frame_step < 1:
        raise DatasetError(f"--frame-step must be >= 1, got {frame_step}")
    if not 1 <= min_dimension <= max_dimension:
        raise DatasetError(
            f"need 1 <= --min-dimension <= --max-dimension, got {min_dimension} and {max_dimension}"
        )


def check_jobs(input_dir: Path, jobs: list[VideoJob], skipped: list[str]) -> None:
    if not jobs:
        others = f" (found only {', '.join(skipped)})" if skipped else ""
        raise DatasetError(
            f"no videos named smiling* or no_smiling* ({'/'.join(VIDEO_SUFFIXES)}) "
            f"in {input_dir}{others}"
        )
    # The stem is the crop's name and its group: two videos sharing one would overwrite each
    # other's crops and merge into one group.
    stems = Counter(job.path.stem.lower() for job in jobs)
    clashes = sorted(job.path.name for job in jobs if stems[job.path.stem.lower()] > 1)
    if clashes:
        raise DatasetError(f"videos share a name stem: {', '.join(clashes)}")
    for job in jobs:
        check_readable(job.path)


def crop_heads(
    input_dir: str | Path,
    output_dir: str | Path,
    detector: Detector,
    frame_step: int = 5,
    min_dimension: int = 6,
    max_dimension: int = 750,
    score_threshold: float = SCORE_THRESHOLD,
    dry_run: bool = False,
    overwrite: bool = False,
) -> CropReport:
    """Crop the best head of every `frame_step`-th frame of each labelled video in `input_dir`.

    Crops go to OUTPUT/<label>/<video_stem>_f<frame:06d>.png; existing ones are kept unless
    `overwrite`; `dry_run` counts what would be written and writes nothing.
    """
    input_dir, output_dir = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    check_arguments(input_dir, output_dir, frame_step, min_dimension, max_dimension)
    jobs, skipped = find_videos(input_dir)
    check_jobs(input_dir, jobs, skipped)
    for name in skipped:
        log.warning("skipping %s: not named smiling* or no_smiling*", name)
    stats = []
    for job in jobs:
        log.info("cropping %s (%s)", job.path.name, job.label)
        stats.append(
            crop_video(
                job,
                output_dir,
                detector,
                frame_step,
                min_dimension,
                max_dimension,
                score_threshold,
                dry_run,
                overwrite,
            )
        )
    return CropReport(
        output_dir=output_dir,
        videos=tuple(stats),
        skipped_videos=tuple(skipped),
        min_dimension=min_dimension,
        max_dimension=max_dimension,
        dry_run=dry_run,
    )
