"""The preprocessing contract: what a model expects, and the one function that produces it.

Training-time evaluation and inference both call `preprocess`, so a crop is turned into model
input the same way everywhere and train/serve skew cannot creep in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import cv2
import numpy as np

from hsc_infer.errors import ContractError

CONTRACT_METADATA_KEY = "hsc_contract"
ColourMode = Literal["rgb", "grey"]
CropKind = Literal["head", "face"]
Layout = Literal["NCHW", "NHWC"]


@dataclass(frozen=True)
class ModelContract:
    """How a crop becomes model input, and how the output is read.

    The defaults are the reference release models' (`hsc_*_48x48.onnx`), which carry no metadata.
    """

    input_size: tuple[int, int] = (48, 48)  # (H, W) the model was trained at
    colour_mode: ColourMode = "rgb"  # "grey": luma replicated over 3 channels
    channel_order: str = "RGB"  # order of the model's input channels
    scale: float = 1.0 / 255.0  # uint8 -> [0, 1]
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # subtracted after scaling
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # divided after subtracting the mean
    class_names: tuple[str, str] = ("no_smiling", "smiling")  # index = class id
    threshold: float = 0.5  # prob_smiling >= threshold means smiling
    crop_kind: CropKind = "head"  # what the training crops showed: the whole head or the face
    crop_margin: float = 0.0  # fraction of the box side added on each side before cropping
    model_config: dict[str, Any] | None = None  # architecture, for the record
    training_config: dict[str, Any] | None = None  # how it was trained, for the record
    tool_version: str | None = None  # hsc-jax version that wrote the contract
    extra: dict[str, Any] = field(default_factory=dict)  # keys of newer writers, kept verbatim

    def __post_init__(self) -> None:
        h, w = self.input_size
        if h < 1 or w < 1:
            raise ContractError(f"input_size must be positive (H, W), got {self.input_size}")
        if self.colour_mode not in ("rgb", "grey"):
            raise ContractError(f"colour_mode must be 'rgb' or 'grey', got {self.colour_mode!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ContractError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
        if self.crop_kind not in ("head", "face"):
            raise ContractError(f"crop_kind must be 'head' or 'face', got {self.crop_kind!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ContractError(f"threshold must lie in [0, 1], got {self.threshold}")
        if self.crop_margin < 0:
            raise ContractError(f"crop_margin must be >= 0, got {self.crop_margin}")
        if any(s == 0 for s in self.std):
            raise ContractError(f"std must not contain 0, got {self.std}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelContract:
        known = set(cls.__dataclass_fields__) - {"extra"}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known and k != "extra"})
        for key in ("input_size", "mean", "std", "class_names"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str) -> ModelContract:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ContractError(f"model contract is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ContractError(f"model contract must be a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)

    def with_threshold(self, threshold: float) -> ModelContract:
        return replace(self, threshold=float(threshold))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W[, C]) to `size` = (H, W): area filter when shrinking, bilinear when enlarging.

    An axis that shrinks while the other grows is resized in two passes so that each axis gets
    its own filter (area alone would blur the enlarged axis; bilinear alone aliases the other).
    """
    out_h, out_w = size
    in_h, in_w = image.shape[:2]
    if (in_h, in_w) == (out_h, out_w):
        return image
    shrink_h, shrink_w = out_h <= in_h, out_w <= in_w
    if shrink_h == shrink_w:
        interpolation = cv2.INTER_AREA if shrink_h else cv2.INTER_LINEAR
        return cv2.resize(image, (out_w, out_h), interpolation=interpolation)
    resized = cv2.resize(
        image, (in_w, out_h), interpolation=cv2.INTER_AREA if shrink_h else cv2.INTER_LINEAR
    )
    return cv2.resize(
        resized, (out_w, out_h), interpolation=cv2.INTER_AREA if shrink_w else cv2.INTER_LINEAR
    )


def _check_crop(crop: np.ndarray, index: int) -> None:
    if not isinstance(crop, np.ndarray):
        raise TypeError(f"crop {index}: expected a numpy array, got {type(crop).__name__}")
    if crop.dtype != np.uint8:
        raise TypeError(f"crop {index}: expected dtype uint8, got {crop.dtype}")
    if crop.ndim != 3 or crop.shape[2] != 3:
        raise ContractError(f"crop {index}: expected shape (H, W, 3), got {crop.shape}")
    if crop.shape[0] == 0 or crop.shape[1] == 0:
        raise ContractError(f"crop {index}: empty crop of shape {crop.shape}")


def _to_model_colour(rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    if contract.colour_mode == "grey":
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        return np.repeat(grey[..., None], 3, axis=-1)
    return rgb if contract.channel_order == "RGB" else rgb[..., ::-1]


def preprocess(
    crops: np.ndarray | Sequence[np.ndarray],
    contract: ModelContract,
    colour_order: Literal["bgr", "rgb"] = "bgr",
    layout: Layout = "NCHW",
) -> np.ndarray:
    """uint8 crop(s) of any size -> float32 model input at the contract's size.

    `crops`: one (H, W, 3) array, a (N, H, W, 3) array, or a list of arrays of any sizes, in
    `colour_order` (OpenCV gives BGR). Returns (N, 3, H, W) or (N, H, W, 3) float32.
    """
    if colour_order not in ("bgr", "rgb"):
        raise ValueError(f"colour_order must be 'bgr' or 'rgb', got {colour_order!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if isinstance(crops, np.ndarray) and crops.ndim == 3:
        crops = [crops]
    if len(crops) == 0:
        raise ContractError("expected at least one crop, got none")
    h, w = contract.input_size
    batch = np.empty((len(crops), h, w, 3), dtype=np.uint8)
    for i, crop in enumerate(crops):
        _check_crop(crop, i)
        rgb = crop[..., ::-1] if colour_order == "bgr" else crop
        batch[i] = _to_model_colour(resize_image(rgb, (h, w)), contract)
    return scale_batch(batch, contract, layout)


def scale_batch(batch: np.ndarray, contract: ModelContract, layout: Layout = "NHWC") -> np.ndarray:
    """(N, H, W, 3) uint8 in the model's channel order, already at size -> float32 input."""
    x = batch.astype(np.float32) * np.float32(contract.scale)
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    if mean.any() or (std != 1).any():
        x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if layout == "NCHW" else x
