"""The data settings have one definition: training's flags, evaluate's flags and the recorded
settings of a model all start from `hsc_jax.data.settings`."""

from __future__ import annotations

import dataclasses

import pytest

from hsc_jax.data.errors import DatasetError
from hsc_jax.data.settings import DEFAULTS, DataSettings
from hsc_jax.evaluation.cli import evaluate
from hsc_jax.train.config import TrainConfig


def test_training_defaults_are_the_data_settings():
    config = TrainConfig(data_root="d.parquet", output_dir="run")
    assert config.data_settings() == DEFAULTS


def test_evaluate_flags_default_to_the_data_settings():
    defaults = {param.name: param.default for param in evaluate.params}
    for flag, field in [
        ("train_ratio", "train_ratio"),
        ("val_ratio", "val_ratio"),
        ("test_ratio", "test_ratio"),
        ("seed", "seed"),
        ("data_cache", "cache"),
        ("skip_bad_rows", "skip_bad_rows"),
    ]:
        assert defaults[flag] == getattr(DEFAULTS, field), flag


def test_a_model_s_recorded_split_replaces_only_the_split_settings():
    given = DataSettings(seed=7, cache="stream", skip_bad_rows=True)
    recorded = {"train_ratio": 0.6, "val_ratio": 0.2, "test_ratio": 0.2, "seed": 3, "lr": 0.1}
    settings = given.from_recorded(recorded)
    assert (settings.train_ratio, settings.val_ratio, settings.test_ratio) == (0.6, 0.2, 0.2)
    assert settings.seed == 3
    assert (settings.cache, settings.skip_bad_rows) == ("stream", True)
    assert given.from_recorded(None) == given
    assert given.from_recorded({"seed": "5"}) == dataclasses.replace(given, seed=5)


def test_bad_ratios_fail_when_the_settings_are_made():
    with pytest.raises(DatasetError, match="--train_ratio/--val_ratio/--test_ratio must sum"):
        DataSettings(train_ratio=0.9, val_ratio=0.2)
