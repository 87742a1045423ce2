"""The models that ship inside hsc_infer, and how a model argument becomes a file.

A model argument is a path to an ONNX file, or the name of a shipped model ("p", "s"); a
file of that name in the working directory wins over the shipped model, so a user's own
file is never shadowed. None means the default shipped model.
"""

from __future__ import annotations

from pathlib import Path

from hsc_infer.errors import ContractError

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Named sizes trained on FERPlus (grey face crops); see docs/model-zoo.md.
SHIPPED_MODELS = {
    "p": "hsc_p_ferplus.onnx",
    "s": "hsc_s_ferplus.onnx",
}
DEFAULT_MODEL = "s"


def shipped_model_path(name: str) -> Path:
    """The packaged file of the shipped model `name` ("p" or "s")."""
    key = name.lower()
    if key not in SHIPPED_MODELS:
        raise ContractError(
            f"no shipped model named {name!r}; shipped: {', '.join(sorted(SHIPPED_MODELS))}"
        )
    return MODELS_DIR / SHIPPED_MODELS[key]


def resolve_model(model: str | Path | None) -> Path:
    """An existing ONNX file for `model` (a path, a shipped name, or None for the default).

    Raises FileNotFoundError naming what was looked for.
    """
    if model is None:
        path = shipped_model_path(DEFAULT_MODEL)
        if not path.is_file():
            raise FileNotFoundError(
                f"the default model {path} is missing from this install; "
                "reinstall hsc-jax or pass model_path=... pointing to an HSC ONNX model"
            )
        return path
    path = Path(model)
    if path.is_file():
        return path
    if isinstance(model, str) and model.lower() in SHIPPED_MODELS:
        shipped = shipped_model_path(model)
        if shipped.is_file():
            return shipped
    names = ", ".join(sorted(SHIPPED_MODELS))
    raise FileNotFoundError(f"HSC model not found: {path} (shipped model names: {names})")
