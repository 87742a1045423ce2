"""Build the face-check training set: crops a detector box cuts, labelled face or not a face.

    .venv/bin/python -m benchmarks.face_path.face_check_data --frames 4000 \\
        --output runs/face_check/face_check.parquet      # configs/face_check_p.json's data_root

The face check (`face_check`) is an HSC model trained to tell a detected face from the textures,
animals and print a face detector also boxes. Its training crops come from the face-path
benchmark's v2 scenes (`scenes.compose_scenes`) built from what the benchmark never scores: the
dev photographs only, and FERPlus *train* faces (the benchmark pastes test faces). For each
frame YuNet searches at 448 px (the default when the set was built, pinned as `DETECT_WIDTH`)
with no threshold, and every candidate's face box is cut as the check's crop
(`face_check.square_crop`, 48x48, colour):
* class 1 (a face): candidates overlapping a true face box with IoU >= 0.4, and the true box
  itself jittered (scale 0.85-1.15, shift up to 10 %), so faces YuNet scores low are not missing;
* class 0 (not a face): candidates overlapping no true face (IoU < 0.1, centre outside every
  face), scored >= 0.02, and three random boxes per frame (40-250 px) over the background.
Candidates in between (a face cut in half) are left out. Besides, 6,000 FERPlus train crops as
they are (class 1): faces in their own photographs, so that what the check learns is a face and
not the look of a pasted crop. Each frame is one group, split 85 % train, 10 % val, 5 % test by
frame, so crops of one frame stay together. The rows carry the FERPlus table's columns that
`hsc-jax train` reads (split, image_bytes, class_id, group_id).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.face_path.face_check import square_crop
from benchmarks.face_path.report import on_a_face
from benchmarks.face_path.run import FERPLUS
from benchmarks.face_path.scenes import compose_scenes, scene_photos
from benchmarks.support import machine_line, print_figures
from hsc_infer.detectors import YuNetFaceDetector
from hsc_infer.detectors.base import iou
from hsc_infer.detectors.yunet import yunet_to_face

FACE_IOU, NOT_FACE_IOU = 0.4, 0.1
MIN_CANDIDATE_SCORE = 0.02
RANDOM_BOXES = 3  # easy negatives per frame
# Pinned, not the detector's defaults: the set configs/face_check_p.json trained on was cut at
# the default of its day (448 px, boxes from 32 px), and so are the check's figures in
# docs/face-path-benchmark.md; a change of the product's defaults must not change this data.
DETECT_WIDTH = 448
MIN_FACE = 32
SPLIT_SHARES = (("train", 0.85), ("val", 0.10), ("test", 0.05))


def jittered(box, rng: np.random.Generator) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    side = (x2 - x1) * rng.uniform(0.85, 1.15)
    cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * (x2 - x1)
    cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * (y2 - y1)
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def random_box(rng: np.random.Generator, shape) -> tuple[float, float, float, float]:
    h, w = shape[:2]
    side = float(rng.uniform(40, 250))
    x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
    return x, y, x + side, y + side


def split_of(index: int, count: int) -> str:
    edge = 0.0
    for name, share in SPLIT_SHARES:
        edge += share
        if index < edge * count:
            return name
    return SPLIT_SHARES[-1][0]


def crops_of_frame(frame, detector: YuNetFaceDetector, rng) -> list[tuple[np.ndarray, int]]:
    truths = frame.boxes
    out = [(square_crop(frame.image, jittered(t, rng)), 1) for t in truths]
    raw = detector.raw(frame.image)
    for score, box in zip(raw.scores, raw.boxes, strict=True):
        if score < MIN_CANDIDATE_SCORE or box[2] - box[0] < detector.min_face:
            continue
        face = yunet_to_face(box)
        overlap = max((iou(face, t) for t in truths), default=0.0)
        if overlap >= FACE_IOU:
            out.append((square_crop(frame.image, face), 1))
        elif overlap < NOT_FACE_IOU and not on_a_face(face, truths):
            out.append((square_crop(frame.image, face), 0))
    for _ in range(RANDOM_BOXES):
        box = random_box(rng, frame.image.shape)
        if not on_a_face(box, truths) and all(iou(box, t) < NOT_FACE_IOU for t in truths):
            out.append((square_crop(frame.image, box), 0))
    return out


def build(data: Path, frames: int, seed: int, whole_faces: int) -> pa.Table:
    from hsc_jax.data.dataset import load_dataset

    train = load_dataset(data).splits["train"]
    faces = [image[..., ::-1].copy() for image in train.images]  # RGB -> BGR
    scenes = compose_scenes(faces, train.labels == 1, scene_photos("dev"), "dev", frames, seed)
    detector = YuNetFaceDetector(
        0.0, detect_width=DETECT_WIDTH, min_face=MIN_FACE, landmark_check=False, second_look=None
    )
    rng = np.random.default_rng(seed)
    rows = {"split": [], "image_bytes": [], "class_id": [], "group_id": []}

    def add(crop: np.ndarray, label: int, split: str, group: str) -> None:
        ok, png = cv2.imencode(".png", crop)
        if not ok:
            raise RuntimeError(f"cannot encode a crop of {group}")
        rows["split"].append(split)
        rows["image_bytes"].append(png.tobytes())
        rows["class_id"].append(label)
        rows["group_id"].append(group)

    for index, frame in enumerate(scenes):
        for crop, label in crops_of_frame(frame, detector, rng):
            add(crop, label, split_of(index, frames), f"frame{seed}-{index}")
    # Whole FERPlus crops as they are: faces in their own photographs, not pasted ones, so
    # that the check learns faces rather than the look of a pasted crop.
    for n, index in enumerate(rng.permutation(len(faces))[:whole_faces]):
        add(faces[index], 1, split_of(n, whole_faces), f"ferplus-train-{index}")
    return pa.table(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FERPLUS, help="ferplus.parquet")
    parser.add_argument("--frames", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1000, help="scenes the benchmark never draws")
    parser.add_argument("--whole-faces", type=int, default=6000, help="FERPlus crops as they are")
    parser.add_argument("--output", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(machine_line(), flush=True)
    table = build(args.data, args.frames, args.seed, args.whole_faces)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.output)
    labels = np.asarray(table["class_id"])
    print(
        f"{table.num_rows} crops ({labels.sum()} faces, {(labels == 0).sum()} not) -> {args.output}"
    )
    splits = np.asarray(table["split"])
    print_figures(
        "benchmarks.face_path.face_check_data",
        {
            "args": vars(args),
            "crops": table.num_rows,
            "faces": labels.sum(),
            "not_faces": (labels == 0).sum(),
            "crops_by_split": {name: (splits == name).sum() for name, _ in SPLIT_SHARES},
        },
    )


if __name__ == "__main__":
    main()
