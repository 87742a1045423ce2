"""A parquet dataset from a folder tree ROOT/<split>/<class>/*.{png,jpg,jpeg}, bytes embedded."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hsc_infer.labels import IMAGE_SUFFIXES
from hsc_jax import atomic
from hsc_jax.data.errors import MAX_LISTED_ROWS, DatasetError
from hsc_jax.data.images import decode_rgb
from hsc_jax.data.labels import CLASS_NAMES, normalise_label_text, normalise_split

log = logging.getLogger(__name__)

# Crops cut from videos are named <video_stem>_f<frame:06d>.png.
VIDEO_FRAME_PATTERN = re.compile(r"^(?P<video>.+)_f(?P<frame>\d{6})$")
SCHEMA = pa.schema(
    [
        ("split", pa.string()),
        ("image_path", pa.string()),  # relative to the root, '/'-separated
        ("image_bytes", pa.binary()),
        ("class_id", pa.int64()),
        ("label", pa.string()),
        ("source", pa.string()),  # the root folder's name
        ("filename", pa.string()),
        ("video_id", pa.string()),  # video stem of a frame crop, also its group; else null
        ("timestamp", pa.int64()),  # frame number of a frame crop; else null
        ("person_id", pa.string()),  # unknown from the tree; kept so the columns are complete
    ]
)


@dataclass(frozen=True, slots=True)
class ImageFile:
    path: Path
    split: str  # normalised
    class_id: int


@dataclass(frozen=True, slots=True)
class BadFile:
    path: str  # relative to the root
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class BuildReport:
    output: Path
    rows: int
    counts: dict[tuple[str, str], int]  # (split, label) -> rows written
    skipped: tuple[BadFile, ...]  # undecodable files left out under skip_bad_rows

    def format(self) -> str:
        lines = [f"wrote {self.rows} rows to {self.output}"]
        lines += [f"  {split:<10} {label:<11} {n}" for (split, label), n in self.counts.items()]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} undecodable files")
        return "\n".join(lines)


def parse_frame_name(stem: str) -> tuple[str | None, int | None]:
    """'clip01_f000123' -> ('clip01', 123); any other name -> (None, None)."""
    match = VIDEO_FRAME_PATTERN.match(stem)
    if match is None:
        return None, None
    return match.group("video"), int(match.group("frame"))


def parse_extensions(text: str) -> frozenset[str]:
    """'png,JPG, .jpeg' -> {'.png', '.jpg', '.jpeg'}: the suffixes `data build` takes."""
    suffixes = {"." + part.strip().lower().lstrip(".") for part in text.split(",")}
    suffixes.discard(".")
    if not suffixes:
        raise DatasetError(f"--extensions {text!r} names no file extension; e.g. png,jpg")
    return frozenset(suffixes)


def find_images(root: Path, extensions: frozenset[str] = IMAGE_SUFFIXES) -> list[ImageFile]:
    """Images under ROOT/<split>/<class>/, folder names and suffixes matched in any case."""
    found = []
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        split = normalise_split(split_dir.name)
        if split is None:
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            class_id = normalise_label_text(class_dir.name)
            if class_id is None:
                continue
            found += [
                ImageFile(path=file, split=split, class_id=class_id)
                for file in sorted(class_dir.iterdir())
                if file.is_file()
                and file.suffix.lower() in extensions
                and not file.name.startswith(".")  # editors' and macOS's sidecar files
            ]
    return found


def build_parquet(
    root: str | Path,
    output: str | Path,
    skip_bad_rows: bool = False,
    extensions: frozenset[str] = IMAGE_SUFFIXES,
) -> BuildReport:
    """Embed every image of the tree (files with one of `extensions`) into one parquet file,
    written atomically."""
    root, output = Path(root).expanduser().resolve(), Path(output).expanduser()
    if not root.is_dir():
        raise DatasetError(f"--root {root} is not a folder")
    files = find_images(root, extensions)
    if not files:
        wanted = "|".join(sorted(s.lstrip(".") for s in extensions))
        raise DatasetError(
            f"no images under {root}: expected ROOT/<train|validation|val|test>/"
            f"<smiling|no_smiling>/*.{wanted}"
        )
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        contents = list(pool.map(_read_checked, (f.path for f in files)))
    records, bad = [], []
    for file, (data, problem) in zip(files, contents, strict=True):
        relative = file.path.relative_to(root).as_posix()
        if data is None:
            bad.append(BadFile(relative, problem))
            continue
        video_id, frame = parse_frame_name(file.path.stem)
        records.append(
            {
                "split": file.split,
                "image_path": relative,
                "image_bytes": data,
                "class_id": file.class_id,
                "label": CLASS_NAMES[file.class_id],
                "source": root.name,
                "filename": file.path.name,
                "video_id": video_id,
                "timestamp": frame,
                "person_id": None,
            }
        )
    _report_bad_files(root, bad, skip_bad_rows)
    if not records:
        raise DatasetError(f"every image under {root} is undecodable; nothing to write")
    _write_atomically(pa.Table.from_pylist(records, schema=SCHEMA), output)
    counts = Counter((r["split"], r["label"]) for r in records)
    return BuildReport(
        output=output, rows=len(records), counts=dict(sorted(counts.items())), skipped=tuple(bad)
    )


def _read_checked(path: Path) -> tuple[bytes | None, str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, f"cannot read: {e}"
    if decode_rgb(data) is None:
        return None, f"cannot decode as an image ({len(data)} bytes)"
    return data, ""


def _report_bad_files(root: Path, bad: list[BadFile], skip_bad_rows: bool) -> None:
    if not bad:
        return
    listing = "\n".join(f"  {b}" for b in bad[:MAX_LISTED_ROWS])
    if len(bad) > MAX_LISTED_ROWS:
        listing += f"\n  ... and {len(bad) - MAX_LISTED_ROWS} more"
    if not skip_bad_rows:
        raise DatasetError(
            f"{len(bad)} undecodable file(s) under {root}:\n{listing}\n"
            "Remove or replace them, or pass --skip_bad_rows to leave them out."
        )
    log.warning("skipped %d undecodable files under %s:\n%s", len(bad), root, listing)


def _write_atomically(table: pa.Table, output: Path) -> None:
    """Write next to the target and rename, so a crash never leaves a half-written dataset."""
    with atomic.atomic_path(output) as temporary:
        pq.write_table(table, temporary)
