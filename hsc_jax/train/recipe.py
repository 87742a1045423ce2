"""Recipe files (`hsc-jax train --config configs/NAME.json`): training settings in JSON.

A recipe names its settings as the flags do (TrainConfig's fields); flags given on the command
line win over it (see train/cli.py).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any

from hsc_jax.errors import ConfigError
from hsc_jax.train.config import TrainConfig

# The free-text key a recipe file may hold besides the settings.
RECIPE_DESCRIPTION_KEY = "description"


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The settings of a JSON recipe file: TrainConfig field names and values.

    The file may also hold a free-text "description" (the command that runs it, how long it
    takes, the score it reaches), which is dropped here. Any other key is an error, so a typo
    cannot pass silently. Relative paths in the file are read from the working directory.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"--config {path} does not exist") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"--config {path} cannot be read as JSON: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path} must hold a JSON object, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    for key in data:
        if key not in names and key != RECIPE_DESCRIPTION_KEY:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown setting {key!r} in {path} (keys are the training flags without "
                f"'--', plus {RECIPE_DESCRIPTION_KEY!r}){hint}"
            )
    return {k: v for k, v in data.items() if k != RECIPE_DESCRIPTION_KEY}
