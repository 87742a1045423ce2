"""Distillation targets: a teacher's smile probability for every image of a dataset.

`hsc-jax teacher` runs one or more exported models (ONNX, through `hsc_infer`, each with its
own preprocessing contract) over every row of a dataset and writes their mean probability per
image to a parquet file. `hsc-jax train --teacher FILE --teacher_weight W` then trains towards
`(1 - W) * target + W * teacher` for each training image, where `target` is its label (or its
vote share under --soft_labels). The teacher sees each image once, as it is, without the
training augmentation: the probabilities are computed once, not at every step.

The file holds one row per image: the image's path as the dataset names it (`SplitData.paths`),
its label, and a digest of its pixels at the student's image size, by which training images are
matched to it (so a moved --data_root still matches). A training image it has no probability
for, or one it labels otherwise, is an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hsc_jax import atomic
from hsc_jax.data.dataset import Dataset, SplitData, load_dataset
from hsc_jax.data.settings import DEFAULTS
from hsc_jax.errors import ConfigError

TEACHER_KEY = b"hsc_teacher"  # parquet metadata: the models and the dataset it was made from
SPLITS = ("train", "val", "test")
EXAMPLES_SHOWN = 3
DIGEST_CHUNK = 4096  # images read at a time for their digests (a streamed split reads them)


def model_probabilities(
    model: str | Path, dataset_at: Callable[[tuple[int, int]], Dataset], batch_size: int
) -> dict:
    """{path: (probability, label)} of `model` (an ONNX file) on every row of the dataset,
    each image prepared by the model's own contract (size, colour); `dataset_at(size)` is the
    dataset decoded at that size."""
    from hsc_infer import SmileClassifier

    classifier = SmileClassifier(model, provider="cpu")
    dataset = dataset_at(classifier.contract.input_size)
    found = {}
    # Every row, whatever the split: unassigned rows are split by ratio, and all three parts
    # together are every row either way.
    for name in SPLITS:
        split = dataset.splits[name]
        for start in range(0, len(split), batch_size):
            rows = np.arange(start, min(start + batch_size, len(split)))
            crops = list(split.images[rows][:, :, :, ::-1])  # RGB -> BGR, as hsc_infer takes
            for row, prob in zip(rows, classifier.predict(crops), strict=True):
                key = split.paths[row]
                if key in found:
                    raise ConfigError(
                        f"{dataset.source} names two images {key}: the teacher file keys images "
                        "by their path"
                    )
                found[key] = (float(prob), int(split.labels[row]))
    return found


def pixel_digests(split: SplitData) -> list[str]:
    """A digest of each image's pixels as the split holds them (its image size)."""
    digests = []
    for start in range(0, len(split), DIGEST_CHUNK):
        rows = np.arange(start, min(start + DIGEST_CHUNK, len(split)))
        digests += [hashlib.md5(image.tobytes()).hexdigest() for image in split.images[rows]]
    return digests


def student_digests(dataset: Dataset) -> dict[str, str]:
    """{path: digest} of every image of `dataset`, decoded at the student's image size."""
    found = {}
    for name in SPLITS:
        split = dataset.splits[name]
        found.update(zip(split.paths, pixel_digests(split), strict=True))
    return found


def write_teacher_file(
    models: Sequence[str | Path],
    data_root: str | Path,
    output: str | Path,
    image_size: tuple[int, int] = (48, 48),
    batch_size: int = 256,
) -> int:
    """The models' mean probability for every image of `data_root`, written to `output`
    (parquet, atomically) with each image's pixel digest at the student's `image_size`;
    returns the number of images."""
    if not models:
        raise ConfigError("give at least one --model")
    decoded: dict[tuple[int, int], Dataset] = {}

    def dataset_at(size: tuple[int, int]) -> Dataset:
        # Models of one input size, and the student at it, share one decoding of the data.
        size = tuple(size)
        if size not in decoded:
            decoded[size] = load_dataset(data_root, size, DEFAULTS)
        return decoded[size]

    each = [model_probabilities(m, dataset_at, batch_size) for m in models]
    paths = sorted(each[0])
    for model, found in zip(models, each, strict=True):
        if set(found) != set(paths):
            raise ConfigError(f"--model {model} saw other images of {data_root} than {models[0]}")
    digests = student_digests(dataset_at(image_size))
    probs = np.array([[found[p][0] for p in paths] for found in each])  # (models, images)
    table = pa.table(
        {
            "path": paths,
            "label": np.array([each[0][p][1] for p in paths], np.int32),
            "digest": [digests[p] for p in paths],
            "prob_smiling": probs.mean(axis=0).astype(np.float32),
            **{f"prob_model_{i}": row.astype(np.float32) for i, row in enumerate(probs)},
        }
    )
    recorded = {
        "data_root": str(data_root),
        "image_size": list(image_size),
        "models": [str(m) for m in models],
    }
    table = table.replace_schema_metadata({TEACHER_KEY: json.dumps(recorded).encode()})
    with atomic.atomic_path(output) as temporary:
        pq.write_table(table, temporary)
    return len(paths)


@dataclass(frozen=True)
class TeacherFile:
    """A `hsc-jax teacher` file as read: one entry per image."""

    path: Path
    paths: list[str]
    labels: np.ndarray  # (N,) int
    digests: list[str]
    probs: np.ndarray  # (N,) float32 in [0, 1]
    data_root: str | None  # what it was made from
    image_size: tuple[int, ...]  # the student's size it was made for (empty when unrecorded)

    def made_for(self) -> str:
        return "" if self.data_root is None else f" (made for {self.data_root})"


def read_teacher_file(path: str | Path) -> TeacherFile:
    """The file, checked for its columns, unique paths and probabilities in [0, 1]."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise ConfigError(f"--teacher {path}: cannot read it as parquet ({e})") from e
    missing_columns = {"path", "label", "digest", "prob_smiling"} - set(table.column_names)
    if missing_columns:
        raise ConfigError(
            f"--teacher {path} lacks the columns {sorted(missing_columns)}: make it with "
            "hsc-jax teacher"
        )
    recorded = json.loads((table.schema.metadata or {}).get(TEACHER_KEY, b"{}"))
    paths = table.column("path").to_pylist()
    if len(set(paths)) != len(paths):
        raise ConfigError(f"--teacher {path} names some images twice")
    probs = table.column("prob_smiling").to_numpy(zero_copy_only=False).astype(np.float32)
    bad = np.flatnonzero(~((probs >= 0) & (probs <= 1)))
    if bad.size:
        raise ConfigError(
            f"--teacher {path}: row {bad[0]} ({paths[bad[0]]}) has probability {probs[bad[0]]}, "
            "not in [0, 1]"
        )
    return TeacherFile(
        path=path,
        paths=paths,
        labels=table.column("label").to_numpy(zero_copy_only=False),
        digests=table.column("digest").to_pylist(),
        probs=probs,
        data_root=recorded.get("data_root"),
        image_size=tuple(recorded.get("image_size", ())),
    )


def teacher_probabilities(path: str | Path, split: SplitData) -> np.ndarray:
    """(N,) float32 teacher probability of each image of `split`, from a `hsc-jax teacher`
    file; a ConfigError naming the file when it does not fit the split: another image size,
    an image (by its pixels) it lacks, or one it labels otherwise."""
    teacher = read_teacher_file(path)
    where = f"--teacher {teacher.path}{teacher.made_for()}"
    remedy = "make it from this --data_root with hsc-jax teacher"
    held = tuple(split.images[np.arange(min(1, len(split)))].shape[1:3])
    if teacher.image_size and len(split) and held != teacher.image_size:
        h, w = teacher.image_size
        raise ConfigError(
            f"{where} was made for images of {h}x{w}; this run trains at {held[0]}x{held[1]}: "
            "make it with hsc-jax teacher --image_size"
        )
    # Matched by pixels, not by name: a moved --data_root or a renamed file still matches, and
    # an image under a known name with other pixels does not.
    index: dict[str, int] = {}
    for row, digest in enumerate(teacher.digests):
        index.setdefault(digest, row)
    rows = np.array([index.get(d, -1) for d in pixel_digests(split)], np.int64)
    missing = [p for p, row in zip(split.paths, rows, strict=True) if row < 0]
    if missing:
        raise ConfigError(
            f"{where} has no probability for {len(missing)} of the {len(split)} training "
            f"images (matched by their pixels), e.g. {', '.join(missing[:EXAMPLES_SHOWN])}: "
            f"{remedy}"
        )
    differ = np.flatnonzero(teacher.labels[rows] != split.labels)
    if differ.size:
        raise ConfigError(
            f"{where}: {differ.size} training images carry another label there, e.g. "
            f"{split.paths[differ[0]]}: {remedy}"
        )
    return teacher.probs[rows]


def distilled_targets(targets: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """`(1 - weight) * targets + weight * teacher`, float32."""
    return ((1.0 - weight) * targets.astype(np.float32) + weight * teacher).astype(np.float32)
