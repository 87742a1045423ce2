"""Temporal confirmation on clips: what the demo shows, per tracker and detector setting.

    .venv/bin/python -m benchmarks.face_path.run_clips                  # seed 0, 10 x 60 frames
    .venv/bin/python -m benchmarks.face_path.run_clips --seeds 0 1 --thresholds 0.5 0.45 0.4 \\
        --every 1 2 --slacks 0 1

Clips (640x480) are `clips.compose_clip`'s segments, leak-free FERPlus test faces drifting over
scikit-image photographs (the first segment holds no face), seen through a camera
(`clips.camera_clip`: fresh sensor noise on every frame and a smooth shake of a few pixels), so
a false box on the background is not the same box frame after frame. YuNet (the demo's default
settings, one onnxruntime thread) runs once per frame; its raw output is cut at each
`--thresholds` score (by default the product's) and fed, frame by frame, to one
`HeadSmilePipeline` per setting: score threshold x detector every N frames (boxes carried by
optical flow in between) x `--hits` (confirm_hits k) x `--keep` (keep_missed m) x `--slacks`
(detector runs a new track may miss before its k-th hit). The
classifier is the shipped S model behind a cache of its answers by crop, so settings that show the
same crop share one run of it; each setting's own count of crops is what the demo would classify.
The segments follow each other in one clip, as scene cuts: every face vanishes at once, which a
kept box (m > 0) shows as a false box for m frames; a camera shows no cuts, and faces in front
of it leave more gradually. `--reset-at-cuts` runs each segment as its own clip instead.

Per setting, over every frame: recall of the true faces (a shown face box with IoU >= 0.3, one
per face), false boxes per frame and how many of them a face's own track drew (a face's box kept
on after the face went: at a segment's cut, where every face vanishes at once, or the face found
at the wrong size), false tracks (track ids shown but never on a true face), the
delay in frames from a face's first frame to its first shown frame (median and 90th percentile;
faces never shown are counted apart), per-frame smile accuracy on the faces found, and crops
classified per frame. Machine, date and load go with the table.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from benchmarks.face_path.clips import NOISE_SIGMA, ClipTruth, camera_clip
from benchmarks.face_path.frames import leak_free_test_faces, skimage_photos
from benchmarks.face_path.report import match
from benchmarks.face_path.run import FERPLUS
from benchmarks.support import machine_line, print_figures, uptime
from hsc_infer import SmileClassifier
from hsc_infer.demo.pipeline import FrameResult, HeadSmilePipeline
from hsc_infer.demo.tracking import IouTracker
from hsc_infer.detectors import Detection, YuNetFaceDetector
from hsc_infer.detectors.yunet import DEFAULT_SCORE_THRESHOLD


@dataclass(frozen=True)
class Setting:
    threshold: float
    every: int
    hits: int
    keep: int
    slack: int

    def cells(self) -> str:
        return f"| {self.threshold:g} | {self.every} | {self.hits} | {self.keep} | {self.slack} "


class ReplayDetector:
    """Hands the pipeline the current frame's detections, cut once from YuNet's cached output."""

    def __init__(self) -> None:
        self.detections: list[Detection] = []

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        return self.detections


class SharedClassifier:
    """The classifier behind a cache shared by every setting; counts the crops asked of it."""

    def __init__(self, classifier: SmileClassifier | None, cache: dict, contract) -> None:
        self.inner, self.cache, self.crops = classifier, cache, 0
        self.contract = contract
        self.threshold = classifier.threshold if classifier is not None else 0.5

    def predict(self, crops: list[np.ndarray]) -> np.ndarray:
        self.crops += len(crops)
        if self.inner is None:
            return np.zeros(len(crops), np.float32)
        keys = [hashlib.blake2b(c.tobytes() + bytes(str(c.shape), "ascii")).digest() for c in crops]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        if todo:
            for i, p in zip(todo, self.inner.predict([crops[i] for i in todo]), strict=True):
                self.cache[keys[i]] = float(p)
        return np.array([self.cache[k] for k in keys], np.float32)


@dataclass
class Tally:
    faces: int = 0
    found: int = 0
    false_boxes: int = 0
    frames: int = 0
    correct: int = 0
    crops: int = 0
    false_by_id: Counter = field(default_factory=Counter)  # (*clip, track id) -> false boxes
    true_ids: set = field(default_factory=set)  # (*clip, track id) shown on a true face
    first_frame: dict = field(default_factory=dict)  # face key -> its first frame
    first_shown: dict = field(default_factory=dict)  # face key -> its first shown frame

    def add(
        self, clip: tuple, segment: tuple, index: int, result: FrameResult, truth: ClipTruth
    ) -> None:
        """One frame's result. `clip`: the key of the pipeline's run (its track ids' scope);
        `segment`: the key of the frame's segment (its faces' scope)."""
        heads = result.heads
        matched = match([h.detection for h in heads], truth.boxes)
        self.frames += 1
        self.faces += len(truth.boxes)
        self.found += len(matched)
        self.false_boxes += len(heads) - len(matched)
        used = set(matched.values())
        for d, head in enumerate(heads):
            if d in used:
                self.true_ids.add((*clip, head.track_id))
            else:
                self.false_by_id[(*clip, head.track_id)] += 1
        for t in range(len(truth.boxes)):
            key = (*segment, t)  # a face is one mover of one segment
            self.first_frame.setdefault(key, index)
            if t in matched:
                self.first_shown.setdefault(key, index)
                self.correct += heads[matched[t]].smiling == truth.smiling[t]

    def figures(self) -> dict[str, float]:
        """The table's row as numbers (fractions, not percentages)."""
        delays = [self.first_shown[k] - self.first_frame[k] for k in self.first_shown]
        false_tracks = set(self.false_by_id) - self.true_ids
        on_face_tracks = sum(n for i, n in self.false_by_id.items() if i in self.true_ids)
        return {
            "recall": self.found / max(self.faces, 1),
            "false_boxes_per_frame": self.false_boxes / max(self.frames, 1),
            "false_boxes_of_a_face_track_per_frame": on_face_tracks / max(self.frames, 1),
            "false_tracks": len(false_tracks),
            "delay_frames_median": float(np.median(delays)) if delays else float("nan"),
            "delay_frames_p90": float(np.percentile(delays, 90)) if delays else float("nan"),
            "faces_never_shown": len(self.first_frame) - len(self.first_shown),
            "smile_accuracy_found": self.correct / max(self.found, 1),
            "crops_classified_per_frame": self.crops / max(self.frames, 1),
        }

    def row(self, setting: Setting) -> str:
        f = self.figures()
        return (
            setting.cells() + f"| {f['recall']:.1%} "
            f"| {f['false_boxes_per_frame']:.3f} "
            f"| {f['false_boxes_of_a_face_track_per_frame']:.3f} "
            f"| {f['false_tracks']} "
            f"| {f['delay_frames_median']:.0f} / {f['delay_frames_p90']:.0f} "
            f"| {f['faces_never_shown']} "
            f"| {f['smile_accuracy_found']:.1%} "
            f"| {f['crops_classified_per_frame']:.2f} |"
        )


HEADER = (
    "| score | every | k | m | slack | recall | false boxes / frame | of which a face's track "
    "| false tracks "
    "| delay median / p90 (frames) | faces never shown | smile acc. (found) "
    "| crops classified / frame |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def settings_grid(args: argparse.Namespace) -> list[Setting]:
    grid = []
    for threshold in args.thresholds:
        for every in args.every:
            for hits in args.hits:
                for keep in args.keep:
                    # The slack means nothing when one hit confirms.
                    for slack in args.slacks if hits > 1 else args.slacks[:1]:
                        grid.append(Setting(threshold, every, hits, keep, slack))
    return grid


def clip_frames(
    args: argparse.Namespace, seed: int, faces: list[np.ndarray], labels: np.ndarray
) -> Iterator[tuple[np.ndarray, ClipTruth]]:
    """The seed's camera clip, faces shuffled by the seed (as benchmarks.inference.demo does)."""
    order = np.random.default_rng(seed).permutation(len(faces))
    faces, labels = [faces[i] for i in order], labels[order]
    yield from camera_clip(
        faces,
        labels,
        skimage_photos(),
        args.segments,
        args.segment_frames,
        seed=seed,
        noise_sigma=args.noise,
        shake=not args.no_shake,
    )


def new_pipeline(setting: Setting, classifier: SharedClassifier) -> HeadSmilePipeline:
    pipeline = HeadSmilePipeline(
        ReplayDetector(),
        classifier,
        detect_every=setting.every,
        confirm_hits=setting.hits,
        keep_missed=setting.keep,
    )
    # The slack is no flag of the demo's (tracking.CONFIRM_SLACK): set the tracker's window here.
    pipeline.tracker = IouTracker(
        confirm_hits=setting.hits,
        keep_missed=setting.keep,
        confirm_window=setting.hits + setting.slack,
    )
    return pipeline


def run_seed(
    args: argparse.Namespace,
    seed: int,
    detector: YuNetFaceDetector,
    classifiers: dict[Setting, SharedClassifier],
    tallies: dict[Setting, Tally],
    detector_ms: list[float],
) -> int:
    """Runs every setting over one seed's clip, frame by frame; returns the frame count."""
    frames = 0
    faces, labels = leak_free_test_faces(args.data)
    for index, (frame, truth) in enumerate(clip_frames(args, seed, faces, labels)):
        segment = (seed, index // args.segment_frames)
        clip = segment if args.reset_at_cuts else (seed,)
        if index == 0 or (args.reset_at_cuts and index % args.segment_frames == 0):
            pipelines = {s: new_pipeline(s, c) for s, c in classifiers.items()}
        start = time.perf_counter()
        raw = detector.raw(frame)
        detector_ms.append((time.perf_counter() - start) * 1000)
        cut = {}
        for threshold in args.thresholds:
            detector.score_threshold = threshold
            cut[threshold] = detector.postprocess(raw, frame.shape)
        for setting, pipeline in pipelines.items():
            pipeline.detector.detections = cut[setting.threshold]
            result = pipeline(frame)
            tallies[setting].add(clip, segment, index, result, truth)
        frames += 1
    return frames


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--segment-frames", type=int, default=60)
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[DEFAULT_SCORE_THRESHOLD],
        help=f"YuNet score thresholds (default: the product's, {DEFAULT_SCORE_THRESHOLD})",
    )
    parser.add_argument("--every", type=int, nargs="+", default=[1], help="detect every N")
    parser.add_argument("--hits", type=int, nargs="+", default=[1, 2, 3], help="confirm_hits")
    parser.add_argument("--keep", type=int, nargs="+", default=[0, 2, 4], help="keep_missed")
    parser.add_argument("--slacks", type=int, nargs="+", default=[1], help="confirm slack")
    parser.add_argument("--noise", type=float, default=NOISE_SIGMA, help="sensor noise sigma")
    parser.add_argument("--no-shake", action="store_true", help="a camera that never moves")
    parser.add_argument(
        "--reset-at-cuts",
        action="store_true",
        help="fresh pipelines at every segment: each segment its own clip, no scene cuts",
    )
    parser.add_argument("--no-smile", action="store_true", help="skip the classifier")
    parser.add_argument("--model", default=None, help="HSC model (default: the shipped S)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    # One onnxruntime thread: a frame's few crops take about a millisecond (as in the demo).
    classifier = SmileClassifier(args.model, intra_op_threads=1)
    inner = None if args.no_smile else classifier
    detector = YuNetFaceDetector(score_threshold=min(args.thresholds), threads=1)
    cache: dict = {}
    grid = settings_grid(args)
    classifiers = {s: SharedClassifier(inner, cache, classifier.contract) for s in grid}
    tallies = {s: Tally() for s in grid}
    detector_ms: list[float] = []
    before = uptime()
    start = time.perf_counter()
    frames = sum(
        run_seed(args, seed, detector, classifiers, tallies, detector_ms) for seed in args.seeds
    )
    seconds = time.perf_counter() - start
    after = uptime()
    for setting, shared in classifiers.items():
        tallies[setting].crops = shared.crops

    any_tally = next(iter(tallies.values()))
    shake = "no shake" if args.no_shake else "shake"
    shake += ", pipelines reset at each cut" if args.reset_at_cuts else ", one clip with cuts"
    print(
        f"{frames} frames 640x480 (seeds {' '.join(map(str, args.seeds))}, {args.segments} "
        f"segments of {args.segment_frames}, noise sigma {args.noise:g}, {shake}), "
        f"{any_tally.faces} face-frames, {len(any_tally.first_frame)} faces; YuNet default "
        f"settings, 1 thread, {np.median(detector_ms):.1f} ms median; classifier "
        f"{'off' if inner is None else classifier.model_path.name}; {date.today()}; "
        f"{machine_line()}; OpenCV {cv2.__version__}; {seconds:.0f} s"
    )
    print(f"load before: {before}\nload after:  {after}\n")
    print(HEADER)
    for setting in grid:
        print(tallies[setting].row(setting))
    print_figures(
        "benchmarks.face_path.run_clips",
        {
            "args": vars(args),
            "frames": frames,
            "face_frames": any_tally.faces,
            "faces": len(any_tally.first_frame),
            "detector_ms_median": np.median(detector_ms),
            "classifier": None if inner is None else classifier.model_path.name,
            "opencv": cv2.__version__,
            "seconds": seconds,
            "load_before": before,
            "load_after": after,
            "settings": [{**asdict(s), **tallies[s].figures()} for s in grid],
        },
    )


if __name__ == "__main__":
    main()
