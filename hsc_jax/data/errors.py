"""The error type of the data layer and the record of one bad row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hsc_infer.errors import HscError

# Enough to show the pattern of what is wrong without burying the terminal.
MAX_LISTED_ROWS = 20


class DatasetError(HscError, ValueError):
    """The dataset cannot be used as given; the message says where and what to fix."""

    def __init__(self, message: str, bad_rows: Sequence[BadRow] = ()) -> None:
        super().__init__(message)
        self.bad_rows: tuple[BadRow, ...] = tuple(bad_rows)


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be used: its index in the parquet file, its image path, and why."""

    row: int  # 0-based position in the parquet file (over all shards of a sharded set)
    path: str  # image_path, or "<file>#row<i>" when the image is embedded
    reason: str
    shard_row: str = ""  # "<shard>#row<i>" in a sharded set, where `row` counts over all shards

    def __str__(self) -> str:
        where = self.path if self.shard_row in ("", self.path) else f"{self.path}, {self.shard_row}"
        return f"row {self.row} ({where}): {self.reason}"


def format_bad_rows(bad_rows: Sequence[BadRow], limit: int = MAX_LISTED_ROWS) -> str:
    """One line per bad row, the first `limit` of them, then how many more there are."""
    lines = [f"  {bad}" for bad in bad_rows[:limit]]
    if len(bad_rows) > limit:
        lines.append(f"  ... and {len(bad_rows) - limit} more")
    return "\n".join(lines)
