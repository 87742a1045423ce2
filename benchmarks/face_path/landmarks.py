"""YuNet's landmark layouts on the face-path benchmark: true faces against false boxes.

    .venv/bin/python -m benchmarks.face_path.landmarks --frames 500 --seeds 1 2   # choose bounds
    .venv/bin/python -m benchmarks.face_path.landmarks --frames 500 --seeds 0     # check them

The frames are `run.benchmark_frames`' (same seeds, same faces). Every YuNet candidate at or
above `--min-score` (and at least `--min-face` px wide) is matched to the true faces as the
benchmark matches (face box, IoU >= 0.3, one detection per face); the rest are false boxes. For
each feature of `hsc_infer.detectors.landmarks.face_layout` the script prints percentiles of
true faces, of the astronaut's (a real face in context) and of false boxes, then how many of
each the bounds of `plausible_face` reject, at every score threshold of `--scores`. Bounds are
chosen on some seeds and checked on others. Results: docs/face-path-benchmark.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from benchmarks.face_path.report import frame_background, match
from benchmarks.face_path.run import FERPLUS, benchmark_frames
from benchmarks.support import machine_line, print_figures
from hsc_infer.detectors import YuNetFaceDetector
from hsc_infer.detectors import landmarks as bounds
from hsc_infer.detectors.landmarks import LandmarkLayout, face_layout, plausible_face
from hsc_infer.detectors.yunet import DEFAULT_DETECT_WIDTH, DEFAULT_MIN_FACE, face_detection

PERCENTILES = (0, 0.1, 1, 50, 99, 99.9, 100)
# Each feature's bounds in landmarks.py, by name (None: no bound on that side), with the
# absolute value taken for the angles.
FEATURE_BOUNDS = {
    "roll_degrees": (None, bounds.MAX_ROLL_DEGREES),
    "mouth_tilt_degrees": (None, bounds.MAX_MOUTH_TILT_DEGREES),
    "eye_mouth_drop": (bounds.MIN_EYE_MOUTH_DROP, bounds.MAX_EYE_MOUTH_DROP),
    "nose_position": (bounds.MIN_NOSE_POSITION, bounds.MAX_NOSE_POSITION),
    "mouth_per_eyes": (bounds.MIN_MOUTH_PER_EYES, bounds.MAX_MOUTH_PER_EYES),
    "eyes_per_width": (bounds.MIN_EYES_PER_WIDTH, bounds.MAX_EYES_PER_WIDTH),
    "outside_box": (None, bounds.MAX_OUTSIDE_BOX),
}
ANGLES = ("roll_degrees", "mouth_tilt_degrees")


@dataclass(frozen=True)
class Candidate:
    score: float
    true_face: bool
    background: str
    layout: LandmarkLayout
    plausible: bool


def candidates(frames, detector: YuNetFaceDetector, min_score: float) -> list[Candidate]:
    """Every candidate at or above `min_score`, matched to the true faces like the benchmark."""
    found = []
    for frame in frames:
        raw = detector.raw(frame.image)
        kept = []
        for score, box, points in zip(raw.scores, raw.boxes, raw.landmarks, strict=True):
            if score < min_score or box[2] - box[0] < detector.min_face:
                continue
            detection = face_detection(score, box, points, frame.image.shape)
            layout = face_layout(points, box)
            if detection is not None and layout is not None:
                kept.append((detection, layout, plausible_face(points, box)))
        matched = set(match([k[0] for k in kept], frame.boxes).values())
        background = frame_background(frame)
        found += [
            Candidate(d.score, i in matched, background, layout, plausible)
            for i, (d, layout, plausible) in enumerate(kept)
        ]
    return found


def feature_values(group: list[Candidate], name: str) -> np.ndarray:
    values = np.array([getattr(c.layout, name) for c in group], np.float64)
    return np.abs(values) if name in ANGLES else values


def rejected_by(group: list[Candidate], name: str) -> int:
    low, high = FEATURE_BOUNDS[name]
    values = feature_values(group, name)
    outside = np.zeros(len(values), bool) | np.isnan(values)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    return int(outside.sum())


def percentiles(groups: dict[str, list[Candidate]]) -> list[dict]:
    """Per feature and non-empty group: its size and the feature's PERCENTILES."""
    return [
        {
            "feature": name,
            "group": group,
            "n": len(members),
            "percentiles": np.percentile(feature_values(members, name), PERCENTILES).tolist(),
        }
        for name in (f.name for f in fields(LandmarkLayout))
        for group, members in groups.items()
        if members
    ]


def percentile_table(groups: dict[str, list[Candidate]]) -> str:
    lines = [
        "| feature | group | n | " + " | ".join(f"{p:g} %" for p in PERCENTILES) + " |",
        "|---|---|---|" + "---|" * len(PERCENTILES),
    ]
    for row in percentiles(groups):
        name = row["feature"]
        label = f"|{name}|" if name in ANGLES else name
        cells = " | ".join(f"{v:.2f}" for v in row["percentiles"])
        lines.append(f"| {label} | {row['group']} | {row['n']} | {cells} |")
    return "\n".join(lines)


def rejections(found: list[Candidate], scores: list[float]) -> list[dict]:
    """Per score threshold, for the true faces and for the false boxes kept at it: how many,
    how many each bound rejects, how many the check (any bound) rejects, and the backgrounds of
    the false boxes it rejects."""
    rows = []
    for threshold in scores:
        kept = [c for c in found if c.score >= threshold]
        for group, members in (
            ("true faces", [c for c in kept if c.true_face]),
            ("false boxes", [c for c in kept if not c.true_face]),
        ):
            failed = [c for c in members if not c.plausible]
            rows.append(
                {
                    "score": threshold,
                    "group": group,
                    "n": len(members),
                    "rejected_by": {n: rejected_by(members, n) for n in FEATURE_BOUNDS},
                    "rejected": len(failed),
                    "rejected_where": (
                        sorted(c.background for c in failed) if group[0] == "f" else []
                    ),
                }
            )
    return rows


def rejection_table(found: list[Candidate], scores: list[float]) -> str:
    names = list(FEATURE_BOUNDS)
    lines = [
        "| score >= | group | n | " + " | ".join(names) + " | any (the check) |",
        "|---|---|---|" + "---|" * (len(names) + 1),
    ]
    for row in rejections(found, scores):
        cells = " | ".join(str(row["rejected_by"][n]) for n in names)
        where = ", ".join(row["rejected_where"])
        lines.append(
            f"| {row['score']:g} | {row['group']} | {row['n']} | {cells} | {row['rejected']}"
            + (f" ({where})" if where else "")
            + " |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--frames", type=int, default=300, help="frames per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--width", type=int, default=DEFAULT_DETECT_WIDTH)
    parser.add_argument("--min-face", type=int, default=DEFAULT_MIN_FACE)
    parser.add_argument("--min-score", type=float, default=0.3, help="candidates kept")
    parser.add_argument("--scores", type=float, nargs="+", default=[0.3, 0.45, 0.5, 0.6])
    parser.add_argument("--report-score", type=float, default=0.5, help="percentiles above it")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line(), flush=True)
    detector = YuNetFaceDetector(0.0, args.width, min_face=args.min_face, threads=1)
    found: list[Candidate] = []
    for seed in args.seeds:
        found += candidates(
            benchmark_frames(args.data, args.frames, seed), detector, args.min_score
        )
    report = args.report_score
    shown = [c for c in found if c.score >= report]
    print(
        f"YuNet {args.width} px, min face {args.min_face} px, seeds {args.seeds}, "
        f"{args.frames} frames each: {len(found)} candidates at score >= {args.min_score:g}\n"
    )
    print(f"Layout features at score >= {report:g}:\n")
    groups = {
        "true faces": [c for c in shown if c.true_face],
        "astronaut": [c for c in shown if c.true_face and c.background == "astronaut"],
        "false boxes": [c for c in shown if not c.true_face],
    }
    print(percentile_table(groups))
    print("\nRejected by each bound of plausible_face (false boxes: where):\n")
    print(rejection_table(found, args.scores))
    print("\nBounds: " + ", ".join(f"{n} {b}" for n, b in FEATURE_BOUNDS.items()))
    print_figures(
        "benchmarks.face_path.landmarks",
        {
            "args": vars(args),
            "candidates": len(found),
            "bounds": FEATURE_BOUNDS,
            "percentile_points": PERCENTILES,
            "percentiles": percentiles(groups),
            "rejections": rejections(found, args.scores),
        },
    )


if __name__ == "__main__":
    main()
