"""What `benchmarks.face_path.run` counts and prints: detections matched to true faces, and
per setting recall, false boxes, time and smile decisions, as markdown tables.

A detection counts when its box overlaps a true face box with IoU >= MIN_IOU (one detection per
face, best overlap first); every other box is a false one. Every face is also kept as a
`FaceResult`, from which the v2 tables (recall by size and condition, smile F1) are cut.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.face_path.conditions import CONDITIONS
from benchmarks.face_path.frames import ASTRONAUT, BACKGROUNDS, BenchFrame, f1_score
from benchmarks.face_path.scenes import PHOTO_FACE, SIZE_BUCKETS, SceneFrame
from hsc_infer import SmileClassifier
from hsc_infer.crops import crop, crop_box
from hsc_infer.detectors import Detection
from hsc_infer.detectors.base import iou

MIN_IOU = 0.3
SMALL_FACE = 100  # px: the recall of faces below this side is reported on its own


def match(detections: list[Detection], truth: tuple) -> dict[int, int]:
    """Greedy one-to-one matching, best IoU first: {true index: detection index}."""
    pairs = sorted(
        ((iou(d.box, t), ti, di) for ti, t in enumerate(truth) for di, d in enumerate(detections)),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used = set()
    for score, ti, di in pairs:
        if score < MIN_IOU:
            break
        if ti not in matched and di not in used:
            matched[ti] = di
            used.add(di)
    return matched


@dataclass(frozen=True)
class FaceResult:
    side: int  # the true box's side, px
    condition: str  # conditions.CONDITIONS or PHOTO_FACE
    smiling: bool  # the label
    direct: bool  # the model's decision on the original crop
    path: bool | None  # its decision on the crop cut from the detection; None: face missed

    @property
    def found(self) -> bool:
        return self.path is not None


def frame_conditions(frame: BenchFrame) -> tuple[str, ...]:
    """Each face's condition: a v2 frame names them; v1 pastes frontal faces and the
    astronaut's photograph."""
    if isinstance(frame, SceneFrame):
        return frame.conditions
    return tuple(PHOTO_FACE if frame.background.startswith(ASTRONAUT) else "frontal"
                 for _ in frame.boxes)  # fmt: skip


def frame_background(frame: BenchFrame) -> str:
    """The photograph a frame's false boxes come from: its background ("collage" for several),
    or the face photograph (v1: the astronaut's) where a face photograph stands in front."""
    return frame.background.split(" over ")[0]


def on_a_face(box: tuple, truth: tuple) -> bool:
    """Whether a box's centre lies inside a true face box: a false box that is a face found at
    the wrong size (IoU under the match's) or a second time, not a non-face."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(t[0] <= cx < t[2] and t[1] <= cy < t[3] for t in truth)


@dataclass
class Tally:
    faces: int = 0
    found: int = 0
    small: int = 0
    small_found: int = 0
    false_boxes: int = 0
    frames: int = 0
    ms: list[float] = field(default_factory=list)
    correct: int = 0
    direct_correct: int = 0
    ious: list[float] = field(default_factory=list)
    frames_by_background: Counter = field(default_factory=Counter)
    false_by_background: Counter = field(default_factory=Counter)
    false_on_a_face: int = 0
    results: list[FaceResult] = field(default_factory=list)

    def add(
        self,
        frame: BenchFrame,
        detections: list[Detection],
        ms: float,
        classifier: SmileClassifier,
        direct: list[bool],
    ) -> None:
        matched = match(detections, frame.boxes)
        self.frames += 1
        self.ms.append(ms)
        self.faces += len(frame.boxes)
        self.found += len(matched)
        self.false_boxes += len(detections) - len(matched)
        background = frame_background(frame)
        self.frames_by_background[background] += 1
        self.false_by_background[background] += len(detections) - len(matched)
        used = set(matched.values())
        self.false_on_a_face += sum(
            on_a_face(d.box, frame.boxes) for i, d in enumerate(detections) if i not in used
        )
        for ti, box in enumerate(frame.boxes):
            if box[2] - box[0] < SMALL_FACE:
                self.small += 1
                self.small_found += ti in matched
        path: dict[int, bool] = {}
        if matched:
            crops = [
                crop(frame.image, crop_box(detections[di], classifier.contract, frame.image.shape))
                for di in matched.values()
            ]
            probs = classifier.predict(crops)
            for (ti, di), p in zip(matched.items(), probs, strict=True):
                path[ti] = bool(p >= classifier.threshold)
                self.correct += path[ti] == frame.smiling[ti]
                self.direct_correct += direct[ti] == frame.smiling[ti]
                self.ious.append(iou(detections[di].box, frame.boxes[ti]))
        for ti, condition in enumerate(frame_conditions(frame)):
            side = frame.boxes[ti][2] - frame.boxes[ti][0]
            self.results.append(
                FaceResult(side, condition, frame.smiling[ti], direct[ti], path.get(ti))
            )

    def figures(self) -> dict[str, float]:
        """The main table's row as numbers (fractions, not percentages), and the false boxes
        per frame by background and on a true face (`background_table`'s row)."""
        ms = np.asarray(self.ms)
        found = max(self.found, 1)
        return {
            "recall": self.found / max(self.faces, 1),
            "recall_under_100px": self.small_found / max(self.small, 1),
            "false_boxes_per_frame": self.false_boxes / max(self.frames, 1),
            "ms_median": float(np.median(ms)),
            "ms_p95": float(np.percentile(ms, 95)),
            "smile_accuracy_found": self.correct / found,
            "direct_accuracy_same_faces": self.direct_correct / found,
            "iou_median": float(np.median(self.ious)) if self.ious else float("nan"),
            "false_boxes_per_frame_by_background": {
                b: self.false_by_background[b] / max(n, 1)
                for b, n in self.frames_by_background.items()
            },
            "false_boxes_on_a_true_face_per_frame": self.false_on_a_face / max(self.frames, 1),
        }

    def row(self, name: str) -> str:
        f = self.figures()
        return (
            f"| {name} | {f['recall']:.1%} "
            f"| {f['recall_under_100px']:.1%} "
            f"| {f['false_boxes_per_frame']:.3f} "
            f"| {f['ms_median']:.1f} | {f['ms_p95']:.1f} "
            f"| {f['smile_accuracy_found']:.1%} | {f['direct_accuracy_same_faces']:.1%} "
            f"| {f['iou_median']:.2f} |"
        )

    def background_row(self, name: str, backgrounds: list[str]) -> str:
        cells = " | ".join(
            f"{self.false_by_background[b] / max(self.frames_by_background[b], 1):.3f}"
            for b in backgrounds
        )
        return (
            f"| {name} | {cells} | {self.false_boxes / max(self.frames, 1):.3f} "
            f"| {self.false_on_a_face / max(self.frames, 1):.3f} |"
        )


HEADER = (
    "| detector, setting | recall | recall < 100 px | false boxes / frame | ms median | ms p95 "
    "| smile acc. (found) | direct acc. (same faces) | IoU median |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def background_table(
    tallies: dict[str, Tally], order: Sequence[str] = (*BACKGROUNDS, ASTRONAUT)
) -> str:
    """False boxes per frame by background, columns in `order` (those seen)."""
    seen = Counter()
    for tally in tallies.values():
        seen |= tally.frames_by_background
    backgrounds = [b for b in order if seen[b]]
    frames = " | ".join(str(seen[b]) for b in backgrounds)
    lines = [
        "| setting | " + " | ".join(backgrounds) + " | all | on a true face |",
        "|---|" + "---|" * (len(backgrounds) + 2),
        f"| frames | {frames} | {sum(seen.values())} | |",
    ]
    lines += [tally.background_row(name, backgrounds) for name, tally in tallies.items()]
    return "\n".join(lines)


def size_bucket(side: int) -> str:
    """The SIZE_BUCKETS label a face's side falls in ("60-90", ...); the last bucket holds its
    upper edge too; sides outside every bucket are "other"."""
    for low, high in SIZE_BUCKETS:
        if low <= side < high or (side == high == SIZE_BUCKETS[-1][1]):
            return f"{low}-{high}"
    return "other"


def recall_by(
    results: Iterable[FaceResult], key: Callable[[FaceResult], str]
) -> dict[str, tuple[int, int]]:
    """{group: (found, faces)} over `results` grouped by `key`."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        counts[key(result)][0] += result.found
        counts[key(result)][1] += 1
    return {group: (found, faces) for group, (found, faces) in counts.items()}


def recall_table(tallies: dict[str, Tally], key: Callable, groups: Sequence[str]) -> str:
    """Recall per group (columns in `groups`' order, those seen) and over all faces."""
    per = {name: recall_by(t.results, key) for name, t in tallies.items()}
    seen = [g for g in groups if any(g in p for p in per.values())]
    first = next(iter(per.values()), {})
    lines = [
        "| setting | " + " | ".join(seen) + " | all |",
        "|---|" + "---|" * (len(seen) + 1),
        "| faces | " + " | ".join(str(first.get(g, (0, 0))[1]) for g in seen)
        + f" | {sum(f for _, f in first.values())} |",
    ]  # fmt: skip
    for name, groups_seen in per.items():
        cells = [f"{found / faces:.1%}" for found, faces in (groups_seen[g] for g in seen)]
        found = sum(f for f, _ in groups_seen.values())
        faces = max(sum(n for _, n in groups_seen.values()), 1)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {found / faces:.1%} |")
    return "\n".join(lines)


def recall_figures(tally: Tally) -> dict[str, dict[str, float]]:
    """`size_table`'s and `condition_table`'s rows for one setting as fractions: recall by the
    face's size bucket and by its condition."""
    return {
        "recall_by_size": {
            group: found / faces
            for group, (found, faces) in recall_by(
                tally.results, lambda r: size_bucket(r.side)
            ).items()
        },
        "recall_by_condition": {
            group: found / faces
            for group, (found, faces) in recall_by(tally.results, lambda r: r.condition).items()
        },
    }


def size_table(tallies: dict[str, Tally]) -> str:
    buckets = [f"{low}-{high}" for low, high in SIZE_BUCKETS] + ["other"]
    return recall_table(tallies, lambda r: size_bucket(r.side), buckets)


def condition_table(tallies: dict[str, Tally]) -> str:
    return recall_table(tallies, lambda r: r.condition, (*CONDITIONS, PHOTO_FACE))


@dataclass(frozen=True)
class SmileF1:
    found: float  # through the detector's crop, found faces only
    direct_found: float  # on the original crops of the same faces
    all_faces: float  # through the detector's crop, a missed face counting as not smiling
    direct_all: float  # on the original crops of every face


def smile_f1(results: Sequence[FaceResult]) -> SmileF1:
    labels = np.array([r.smiling for r in results], bool)
    direct = np.array([r.direct for r in results], bool)
    found = np.array([r.found for r in results], bool)
    path = np.array([bool(r.path) for r in results], bool)  # a miss: not smiling
    return SmileF1(
        found=f1_score(path[found], labels[found]),
        direct_found=f1_score(direct[found], labels[found]),
        all_faces=f1_score(path, labels),
        direct_all=f1_score(direct, labels),
    )


def f1_table(tallies: dict[str, Tally]) -> str:
    lines = [
        "| setting | smile F1 (found) | direct F1 (same faces) "
        "| smile F1 (all faces, a miss = not smiling) | direct F1 (all faces) |",
        "|---|---|---|---|---|",
    ]
    for name, tally in tallies.items():
        f1 = smile_f1(tally.results)
        lines.append(
            f"| {name} | {f1.found:.3f} | {f1.direct_found:.3f} | {f1.all_faces:.3f} "
            f"| {f1.direct_all:.3f} |"
        )
    return "\n".join(lines)
