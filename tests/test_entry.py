"""The `hsc-jax` script's check for the training extra (the installed case is in
test_packaging.py)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hsc_jax import entry

ROOT = Path(__file__).resolve().parents[1]


def test_every_training_module_comes_from_the_train_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = {Requirement(text).name.lower() for text in extra["optional-dependencies"]["train"]}
    providers = importlib.metadata.packages_distributions()
    for module in entry.TRAINING_MODULES:
        names = {name.lower() for name in providers[module]}
        assert names & listed, (module, names)


def test_nothing_is_missing_in_the_development_environment():
    assert entry.missing_training_modules() == []


def test_a_missing_module_is_one_line_naming_it_and_the_install(monkeypatch):
    monkeypatch.setattr(entry, "TRAINING_MODULES", ("click", "no_such_training_module"))
    with pytest.raises(SystemExit) as exit_info:
        entry.run()
    message = str(exit_info.value.code)
    assert "\n" not in message
    assert "no_such_training_module is not installed" in message
    assert entry.INSTALL_HINT in message
