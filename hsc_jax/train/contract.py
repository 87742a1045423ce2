"""The preprocessing contract a run trains under, decided from its settings and its data."""

from __future__ import annotations

from typing import Any

import numpy as np

from hsc_infer.contract import ModelContract
from hsc_jax.data.stream import StreamImages
from hsc_jax.errors import ConfigError
from hsc_jax.train.checkpoint import tool_version
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.step import InputScaling


def is_grey(images: np.ndarray, chunk: int = 4096) -> bool:
    """True when no image carries colour (R == G == B everywhere), as FERPlus: every image is
    checked, in chunks, so a mostly grey set with a few colour images stays RGB."""
    if len(images) == 0:
        return False
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        if not (
            np.array_equal(part[..., 0], part[..., 1])
            and np.array_equal(part[..., 1], part[..., 2])
        ):
            return False
    return True


def images_are_grey(images: np.ndarray | StreamImages) -> bool:
    """`is_grey` of a split's images: checked on the array, or read from the stream index
    (which recorded it per image while checking every image once)."""
    if isinstance(images, StreamImages):
        return images.all_grey()
    return is_grey(images)


def training_contract(
    config: TrainConfig, model_config: Any, train_images: np.ndarray | StreamImages
) -> ModelContract:
    """The preprocessing contract the model is trained under: a grey colour mode when every
    training image is grey, so a colour camera feeds inference what training saw."""
    contract = ModelContract(
        input_size=config.image_size,
        colour_mode="grey" if images_are_grey(train_images) else "rgb",
        crop_kind=config.crop_kind,
        crop_margin=config.crop_margin,
        model_config=model_config.to_dict(),
        training_config=config.to_dict(),
        tool_version=tool_version(),
    )
    if abs(InputScaling.from_contract(contract).scale - 1.0 / 255.0) > 1e-9:
        raise ConfigError("augmentation works on [0, 1] pixels: contract scale must be 1/255")
    return contract
