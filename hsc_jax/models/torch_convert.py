"""Convert a reference PyTorch checkpoint (state_dict saved as .npz) into an HSCModel."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hsc_jax.models.config import ModelConfig
from hsc_jax.models.model import HSCModel, create_model
from hsc_jax.models.torch_io import load_torch_state_dict

# Where the model config is looked for beside the .npz when none is given.
CONFIG_NAMES = ("model_config.json", "config.json")


def _read_config(config: Mapping[str, Any] | Path | str | None, state_npz: Path) -> dict:
    if config is None:
        candidates = [state_npz.with_suffix(".json")] + [state_npz.parent / n for n in CONFIG_NAMES]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"no model config given and none found beside {state_npz} "
                f"(looked for {[str(p) for p in candidates]})"
            )
        config = found
    if isinstance(config, str | Path):
        config = json.loads(Path(config).read_text())
    # Accept a whole run config that nests the model config under "model_config".
    if "model_config" in config:
        config = config["model_config"]
    return dict(config)


def convert_torch_checkpoint(
    state_npz: Path | str,
    config: Mapping[str, Any] | Path | str | None = None,
    image_size: int | tuple[int, int] = (48, 48),
    depthwise: str = "auto",
) -> tuple[HSCModel, ModelConfig]:
    """Load a reference `model_state` (.npz of PyTorch state_dict keys, optionally prefixed
    "state/") into a new model; returns (model in eval mode, its ModelConfig).

    config: a dict of ModelConfig fields, a JSON file holding one (or a dict with a
    "model_config" entry), or None to read `<state_npz stem>.json` / `model_config.json` /
    `config.json` beside the .npz.
    """
    state_npz = Path(state_npz)
    model_config = ModelConfig.from_dict(_read_config(config, state_npz))
    with np.load(state_npz) as data:
        keys = data.files
        # Prefixed files (like the reference fixtures) also hold inputs/outputs: keep state only.
        if any(k.startswith("state/") for k in keys):
            keys = [k for k in keys if k.startswith("state/")]
        state = {k.removeprefix("state/"): data[k] for k in keys}
    model = create_model(model_config, image_size=image_size, depthwise=depthwise)
    load_torch_state_dict(model, state)
    model.eval()
    return model, model_config
