"""How a dataset is split and where its decoded images live: the one definition of these
settings and their defaults.

Training takes them from its flags (`TrainConfig` uses these defaults) and records them with
the model; evaluation and export read them back (`from_recorded`) so that they rebuild the very
split the model was trained on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hsc_jax.data.split import SplitRatios

DATA_CACHES = ("auto", "ram", "stream")
# The settings that decide which rows land in which split: a model records them.
SPLIT_FIELDS = ("train_ratio", "val_ratio", "test_ratio", "seed")


@dataclass(frozen=True)
class DataSettings:
    # Shares of the grouped split for rows without an explicit split (or marked "unassigned").
    train_ratio: float = 0.8
    val_ratio: float = 0.2
    test_ratio: float = 0.0
    # Orders the groups that the ratios cut (training seeds everything else random with it).
    seed: int = 42
    # Where decoded images live: "ram" decodes every image once into memory; "stream" decodes
    # the rows a batch needs from an on-disk index built once; "auto" takes ram when the
    # decoded images fit comfortably in memory.
    cache: str = "auto"
    # Folder of stream indexes (one per dataset); None: ~/.cache/hsc-jax/stream.
    stream_cache_dir: str | None = None
    # Leave out rows whose label or image is bad (reporting them) instead of failing.
    skip_bad_rows: bool = False

    def __post_init__(self) -> None:
        # Bad ratios fail here, before any file is read, with a DatasetError naming the flags.
        SplitRatios(self.train_ratio, self.val_ratio, self.test_ratio)

    @property
    def ratios(self) -> SplitRatios:
        return SplitRatios(self.train_ratio, self.val_ratio, self.test_ratio)

    def from_recorded(self, recorded: Mapping[str, Any] | None) -> DataSettings:
        """These settings with the split settings a trained model recorded (its training
        config) put in; those it does not record keep their values here."""
        split = {name: recorded[name] for name in SPLIT_FIELDS if name in (recorded or {})}
        split = {name: int(v) if name == "seed" else float(v) for name, v in split.items()}
        return dataclasses.replace(self, **split)


DEFAULTS = DataSettings()
