"""Procedural synthetic head crops: the embedded default dataset for tests and the quickstart.

Each *still image* is one set of face parameters (skin, head geometry, hair, eyes, mouth,
lighting, background, head tilt). It is drawn once with OpenCV primitives, then rendered several
times with small augmentations (shift, zoom, flip, brightness, contrast, noise, and now and then
blur, an occluder or grey).
All renders of a still share its `still_image` id, so the grouped split keeps them together.

The mouth carries the label. Smiling: an upturned curve, often with teeth. No smiling: a neutral
line, an open "O", a downturned curve, or a flat "talking" mouth that shows teeth, so that teeth
alone do not give the answer. Curvature ranges of the two classes are disjoint but close at their
inner ends, which makes some examples subtle without making any label wrong.

Canvases are RGB throughout; PNGs are encoded from BGR (OpenCV's order), so they look right in
any image viewer and decode with `cv2.imdecode` to BGR like every other image in the project.

Rendering is deterministic in the seed: still `i` draws from its own generator seeded by
`(seed, i)`, so every still image but the last of a dataset reappears unchanged at the start of
a larger one with the same seed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hsc_infer.labels import CLASS_NAMES
from hsc_jax import atomic
from hsc_jax.data.synth_faces import draw_still
from hsc_jax.data.synth_random import Draws
from hsc_jax.data.synth_renders import augment

NO_SMILING, SMILING = CLASS_NAMES
CLASS_IDS = {NO_SMILING: 0, SMILING: 1}
SOURCE = "synthetic"
COLUMNS = [
    "split",
    "image_path",
    "image_bytes",
    "class_id",
    "label",
    "source",
    "filename",
    "video_id",
    "timestamp",
    "person_id",
    "still_image",
]

# Sensor noise leaves little for PNG's deflate to find, and deflate was half of the time per
# image (about 200 us of 64x64x3). The PNGs are therefore stored (level 0) with the SUB filter, and
# the parquet file is written with zstd, which on SUB-filtered rows reaches the same size as
# deflated PNGs (about 8.4 kB an image) at a fifth of the cost.
_PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    0,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_SUB,
]
_PARQUET_COMPRESSION = "zstd"
# Rows per parquet row group in shards: about 8 MB of images, what one read pulls in.
SHARD_ROW_GROUP = 1024


def render_synthetic_dataset(
    count: int,
    seed: int,
    image_size: int = 64,
    smiling_fraction: float = 0.3,
    renders_per_still: tuple[int, int] = (2, 4),
    shard: int | None = None,
) -> pd.DataFrame:
    """Render `count` synthetic head crops in the project's parquet format.

    Args:
        count: number of images (rows). Every still image gets at least two renders, except
            when `count` is 1.
        seed: makes the output byte-identical from run to run.
        image_size: side of the square images in pixels.
        smiling_fraction: probability that a still image is smiling.
        renders_per_still: inclusive range of augmented renders per still image.
        shard: draws this shard of a sharded set: its stills come from their own random
            streams `(seed, shard, i)` and carry the shard in their ids, so shards never share
            a still image or a person and each can be rendered alone.

    Returns:
        A DataFrame with the columns of `COLUMNS`, `split` = "unassigned" everywhere.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
    low, high = renders_per_still
    if not 2 <= low <= high:
        raise ValueError(f"renders_per_still must satisfy 2 <= low <= high, got {(low, high)}")
    rows: list[dict] = []
    still_index = 0
    while len(rows) < count:
        stream = (seed, still_index) if shard is None else (seed, shard, still_index)
        rng = Draws(np.random.default_rng(stream))
        n_renders = _renders_for_still(rng, count - len(rows), low, high)
        smiling = bool(rng.random() < smiling_fraction)
        still = draw_still(rng, image_size, smiling)
        for render_index in range(n_renders):
            png = _encode_png(augment(still, rng))
            rows.append(_row(still_index, render_index, smiling, png, shard))
        still_index += 1
    return _to_frame(rows)


def write_synthetic_parquet(path: Path, count: int, seed: int, **kwargs) -> pd.DataFrame:
    """Render a synthetic dataset and write it atomically to `path` (parquet).

    The file is written to a temporary name in the same folder and moved into place, so a
    reader never sees a half-written file. Extra keyword arguments go to
    `render_synthetic_dataset`. Returns the DataFrame that was written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = render_synthetic_dataset(count, seed, **kwargs)
    with atomic.atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False, compression=_PARQUET_COMPRESSION)
    return frame


def shard_name(index: int, shards: int) -> str:
    return f"part-{index:05d}-of-{shards:05d}.parquet"


def write_synthetic_shards(
    folder: Path, count: int, seed: int, shards: int, **kwargs
) -> list[tuple[Path, int]]:
    """Render a synthetic dataset of `count` images as `shards` parquet files in `folder`
    (`part-00000-of-00004.parquet`, ...), one shard at a time, so a set of any size is written
    in the memory of one shard. `--data_root folder` reads them back in order.

    Shards are written atomically; a folder already holding other parquet files is refused
    (they would be read as part of the set). Returns (path, rows) per shard.
    """
    folder = Path(folder)
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    names = [shard_name(k, shards) for k in range(shards)]
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; --shards writes a folder of parquet files")
    folder.mkdir(parents=True, exist_ok=True)
    strangers = sorted(p.name for p in folder.glob("*.parquet") if p.name not in names)
    if strangers:
        raise FileExistsError(
            f"{folder} already holds other parquet files ({', '.join(strangers[:3])}, ...), "
            "which would be read as part of the set; choose an empty folder"
        )
    written = []
    for k, name in enumerate(names):
        rows = count // shards + (1 if k < count % shards else 0)
        frame = render_synthetic_dataset(rows, seed, shard=k, **kwargs)
        with atomic.atomic_path(folder / name) as temporary:
            frame.to_parquet(
                temporary,
                index=False,
                compression=_PARQUET_COMPRESSION,
                row_group_size=SHARD_ROW_GROUP,
            )
        written.append((folder / name, rows))
    return written


# --------------------------------------------------------------------------------------------
# Dataset assembly


def _renders_for_still(rng: Draws, remaining: int, low: int, high: int) -> int:
    n = int(rng.integers(low, high + 1))
    # Never leave a lone render for the last still: it would be a group of one.
    if remaining - n < low:
        return remaining
    return n


def _row(
    still_index: int, render_index: int, smiling: bool, png: bytes, shard: int | None = None
) -> dict:
    label = SMILING if smiling else NO_SMILING
    prefix = "synth" if shard is None else f"synth_k{shard:05d}"
    still_id = f"{prefix}_s{still_index:06d}"
    filename = f"{still_id}_r{render_index}.png"
    return {
        "split": "unassigned",
        "image_path": f"synth/{label}/{filename}",
        "image_bytes": png,
        "class_id": CLASS_IDS[label],
        "label": label,
        "source": SOURCE,
        "filename": filename,
        "video_id": None,
        "timestamp": None,
        # One synthetic person per still: no identity is shared across groups, so nothing leaks.
        "person_id": f"{prefix}_p{still_index:06d}",
        "still_image": still_id,
    }


def _to_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    text_columns = [
        "split",
        "image_path",
        "label",
        "source",
        "filename",
        "person_id",
        "still_image",
    ]
    frame[text_columns] = frame[text_columns].astype("str")
    # A text column of nulls: the nullable string dtype keeps it text when frames are concatenated.
    frame["video_id"] = frame["video_id"].astype("string")
    frame["class_id"] = frame["class_id"].astype("int64")
    # Seconds into a video for frame-derived rows; synthetic stills have none.
    frame["timestamp"] = frame["timestamp"].astype("float64")
    frame["image_bytes"] = frame["image_bytes"].astype(object)
    return frame


def _encode_png(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), _PNG_PARAMS)
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode a synthetic image as PNG")
    return buffer.tobytes()
