"""The model configuration: one frozen dataclass, validated when a model is built."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

ARCH_VARIANTS = ("baseline", "inverted_se", "convnext")
HEAD_VARIANTS = ("auto", "avg", "avgmax_mlp", "transformer", "mlp_mixer")
# What "auto" resolves to for each backbone (the reference's choice).
AUTO_HEADS = {"baseline": "avg", "inverted_se": "avgmax_mlp", "convnext": "transformer"}
COLOUR_FLAGS = ("rgb_to_yuv_to_y", "rgb_to_lab", "rgb_to_luv")
# What HSCModel recomputes in the backward pass instead of keeping (recompute.py): nothing,
# each stage but the last, or the stem too.
RECOMPUTE = ("none", "stages", "all")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; field names and defaults are the reference's."""

    # Channels after the stem (C); stages double it at every stride-2 stage.
    base_channels: int = 32
    # Number of backbone stages (N); stages 2, 4, 6, ... have stride 2.
    num_blocks: int = 4
    # Dropout probability in the head (and inside token-mixer layers).
    dropout: float = 0.3
    # Backbone: "baseline", "inverted_se" or "convnext".
    arch_variant: str = "inverted_se"
    # inverted_se: hidden channels = in * expansion (1 skips the expand conv).
    expansion: int = 4
    # inverted_se: squeeze-excite reduction (0 disables squeeze-excite).
    se_reduction: int = 8
    # Head: "auto", "avg", "avgmax_mlp", "transformer" or "mlp_mixer".
    head_variant: str = "auto"
    # Token-mixer heads: (rows, cols) of the token grid; must divide the feature map.
    token_mixer_grid: tuple[int, int] = (2, 3)
    # Token-mixer heads: number of transformer / MLP-Mixer layers.
    token_mixer_layers: int = 2
    # Colour stems (at most one): luma only (1 channel), CIE Lab, CIE Luv.
    rgb_to_yuv_to_y: bool = False
    rgb_to_lab: bool = False
    rgb_to_luv: bool = False

    def __post_init__(self) -> None:
        # JSON and the fixtures give the grid as a list; keep it hashable.
        object.__setattr__(self, "token_mixer_grid", tuple(int(g) for g in self.token_mixer_grid))

    @property
    def resolved_head(self) -> str:
        """The head that actually runs ("auto" replaced by the backbone's default)."""
        if self.head_variant == "auto":
            return AUTO_HEADS[self.arch_variant]
        return self.head_variant

    @property
    def in_channels(self) -> int:
        """Channels entering the backbone: 1 after the luma stem, else 3."""
        return 1 if self.rgb_to_yuv_to_y else 3

    @property
    def feature_channels(self) -> int:
        """F, the channel count of the backbone output."""
        return self.base_channels * 2 ** ((self.num_blocks - 1) // 2)

    def validate(self) -> None:
        """Raise ValueError for settings no model can be built from (image size aside)."""
        if self.arch_variant not in ARCH_VARIANTS:
            raise ValueError(
                f"unknown arch_variant {self.arch_variant!r}; choose one of {ARCH_VARIANTS}"
            )
        if self.head_variant not in HEAD_VARIANTS:
            raise ValueError(
                f"unknown head_variant {self.head_variant!r}; choose one of {HEAD_VARIANTS}"
            )
        colours = [name for name in COLOUR_FLAGS if getattr(self, name)]
        if len(colours) > 1:
            raise ValueError(
                f"at most one colour stem may be enabled, got {colours}; keep one of them"
            )
        for name in ("base_channels", "num_blocks", "expansion", "token_mixer_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.se_reduction < 0:
            raise ValueError(f"se_reduction must be >= 0 (0 = no SE), got {self.se_reduction}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if len(self.token_mixer_grid) != 2 or min(self.token_mixer_grid) < 1:
            raise ValueError(
                f"token_mixer_grid must be two positive ints (rows, cols), "
                f"got {self.token_mixer_grid}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the grid as a list), as checkpoints and ONNX metadata store it."""
        out = dataclasses.asdict(self)
        out["token_mixer_grid"] = list(self.token_mixer_grid)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error so typos do not pass silently."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}; known keys: {sorted(names)}")
        return cls(**dict(data))
