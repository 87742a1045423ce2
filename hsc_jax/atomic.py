"""Atomic writes: a file or folder appears whole under its name or not at all.

Everything is written to `<name>.tmp-<pid>` beside the target and renamed into place, so a
crash leaves only a temporary that `remove_stale_temporaries` recognises, never a half file
that a later run would read as finished.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# What a killed writer leaves: `<name>.tmp-<pid>` (or `.old-<pid>` mid-swap of a folder).
STALE_TEMPORARY = re.compile(r"\.(tmp|old)-\d+$")


def temporary_sibling(target: Path, token: int | None = None) -> Path:
    """`<target>.tmp-<token>`; the token is this process's pid unless several processes write
    one target together and agree on another number."""
    return target.with_name(f"{target.name}.tmp-{os.getpid() if token is None else token}")


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target` to write a file or a folder into; on success it
    replaces `target` (an existing folder is swapped out, then deleted); on error it is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(target)
    remove(temporary)
    try:
        yield temporary
        replace(temporary, target)
    finally:
        remove(temporary)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (flushed to disk before the rename)."""
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete what killed writers left in `folder` (never read; safe before new writes)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if STALE_TEMPORARY.search(p.name)]
    for path in stale:
        remove(path)
    return stale


def replace(temporary: Path, target: Path) -> None:
    """Move a finished temporary file or folder into place (swapping out an existing folder)."""
    if target.is_dir() and not target.is_symlink():
        # os.replace cannot overwrite a non-empty folder: swap it out first.
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        remove(old)
        os.replace(target, old)
        os.replace(temporary, target)
        remove(old)
    else:
        os.replace(temporary, target)


def remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
