"""The ONNX port of YuNet against libfacedetection's own C++ (the `yuface` wheel) on the
face-path benchmark's frames: does it find the same faces?

    .venv/bin/python -m benchmarks.face_path.engines                   # v2 dev + held-out, clips
    .venv/bin/python -m benchmarks.face_path.engines --frames 100 --widths 512 640

Both engines search the same working image (the frame shrunk to each width, as the detector
does) and report every candidate (score >= 0.2, after NMS). Candidates are paired by IoU; a
candidate without a partner in the other engine's list is a difference. yuface reports whole
pixels (x, y, w, h truncated) and whole percent (truncated), so the port's boxes and scores are
compared after the same truncation, and the raw differences are reported beside them. Whole
detector calls (second look, thresholds) are compared by `python -m benchmarks.face_path.run
--engines onnx yuface`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.face_path.clips import camera_clip
from benchmarks.face_path.frames import leak_free_test_faces, skimage_photos
from benchmarks.face_path.run import scene_frames
from benchmarks.support import FERPLUS, machine_line, print_figures
from hsc_infer.detectors import YuNetFaceDetector
from hsc_infer.detectors.base import iou
from hsc_infer.detectors.yuface_engine import YufaceSearch
from hsc_infer.detectors.yunet import working_image
from hsc_infer.detectors.yunet_decode import YuNetOutput

PAIR_IOU = 0.5


@dataclass
class Comparison:
    """Differences between the two engines' candidates over many searches."""

    searches: int = 0
    candidates: list[int] = field(default_factory=lambda: [0, 0])  # port, yuface
    faces: list[int] = field(default_factory=lambda: [0, 0])  # score >= 0.5
    unpaired: int = 0  # candidates of either engine with no partner in the other's
    boxes_differing: int = 0  # paired, truncated box more than 1 px away
    largest_box_px: float = 0.0  # after truncation
    largest_raw_box_px: float = 0.0
    largest_score: float = 0.0  # after truncation
    largest_raw_score: float = 0.0

    def add(self, ours: YuNetOutput, theirs: YuNetOutput) -> None:
        """Counts one search: the port's candidates (`ours`) against yuface's (`theirs`)."""
        self.searches += 1
        self.candidates[0] += len(ours.scores)
        self.candidates[1] += len(theirs.scores)
        self.faces[0] += int(np.sum(ours.scores >= 0.5))
        self.faces[1] += int(np.sum(theirs.scores >= 0.5))
        taken: set[int] = set()
        for score, box in zip(theirs.scores, theirs.boxes, strict=True):
            overlaps = [0.0 if j in taken else iou(box, b) for j, b in enumerate(ours.boxes)]
            if not overlaps or max(overlaps) < PAIR_IOU:
                self.unpaired += 1
                continue
            j = int(np.argmax(overlaps))
            taken.add(j)
            mine = ours.boxes[j]
            truncated = np.array(
                [int(mine[0]), int(mine[1]), int(mine[0]) + int(mine[2] - mine[0]),
                 int(mine[1]) + int(mine[3] - mine[1])]
            )  # fmt: skip
            box_px = float(np.abs(truncated - box).max())
            self.boxes_differing += box_px > 1
            self.largest_box_px = max(self.largest_box_px, box_px)
            self.largest_raw_box_px = max(self.largest_raw_box_px, float(np.abs(mine - box).max()))
            raw = abs(float(ours.scores[j]) - float(score))
            self.largest_raw_score = max(self.largest_raw_score, raw)
            whole = abs(np.floor(float(ours.scores[j]) * 100 + 1e-6) / 100 - float(score))
            self.largest_score = max(self.largest_score, whole)
        self.unpaired += len(ours.scores) - len(taken)

    def figures(self) -> dict:
        return {
            "searches": self.searches,
            "candidates_onnx": self.candidates[0],
            "candidates_yuface": self.candidates[1],
            "faces_onnx": self.faces[0],
            "faces_yuface": self.faces[1],
            "unpaired": self.unpaired,
            "boxes_differing_over_1px": self.boxes_differing,
            "largest_box_px_truncated": self.largest_box_px,
            "largest_box_px_raw": self.largest_raw_box_px,
            "largest_score_truncated": self.largest_score,
            "largest_score_raw": self.largest_raw_score,
        }


def frame_sets(count: int, seed: int, clip_segments: int) -> Iterator[tuple[str, np.ndarray]]:
    for split in ("dev", "heldout"):
        for frame in scene_frames(FERPLUS, count, seed, split):
            yield f"v2 {split}", frame.image
    faces, labels = leak_free_test_faces(FERPLUS)
    for frame, _ in camera_clip(faces, labels, skimage_photos(), clip_segments, seed=seed):
        yield "clips", frame


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500, help="v2 frames of each half")
    parser.add_argument("--clip-segments", type=int, default=5, help="60-frame camera segments")
    parser.add_argument("--widths", type=int, nargs="+", default=[512, 640])
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line())
    port = YuNetFaceDetector(second_look=None)
    cpp = YufaceSearch(threads=1)
    results: dict[str, Comparison] = {}
    for name, frame in frame_sets(args.frames, args.seed, args.clip_segments):
        for width in args.widths:
            image, _ = working_image(frame, width)
            results.setdefault(f"{name}, {width} px", Comparison()).add(
                port.search(image), cpp(image)
            )
    print(
        "\n| frames, width | searches | candidates (port / yuface) | faces >= 0.5 | unpaired "
        "| boxes > 1 px apart | largest box difference px (truncated / raw) "
        "| largest score difference (truncated / raw) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, c in results.items():
        print(
            f"| {name} | {c.searches} | {c.candidates[0]} / {c.candidates[1]} "
            f"| {c.faces[0]} / {c.faces[1]} | {c.unpaired} | {c.boxes_differing} "
            f"| {c.largest_box_px:.0f} / {c.largest_raw_box_px:.2f} "
            f"| {c.largest_score:.3f} / {c.largest_raw_score:.3f} |"
        )
    print_figures(
        "benchmarks.face_path.engines",
        {"args": vars(args), "sets": {name: c.figures() for name, c in results.items()}},
    )


if __name__ == "__main__":
    main()
