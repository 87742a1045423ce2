"""The HSC classifier: colour stem -> backbone -> head, and the functions around it."""

from __future__ import annotations

import math

import jax
from flax import nnx

from hsc_jax.models.backbones import Size, build_backbone
from hsc_jax.models.colour import colour_transform
from hsc_jax.models.config import COLOUR_FLAGS, RECOMPUTE, ModelConfig
from hsc_jax.models.heads import build_head, check_grid
from hsc_jax.models.layers import resolve_impl, set_conv_impl
from hsc_jax.models.recompute import keep_in_backward, recompute_in_backward


class HSCModel(nnx.Module):
    """Smile classifier. Input (B, H, W, 3) float32 RGB in [0, 1]; output logits (B,).

    ``model(x, return_intermediates=True)`` returns a dict with "stem" (after the colour
    transform and the stem), "features" (backbone output) and "logits"; tensors are NHWC.
    Dropout draws from the "dropout" stream given at construction, so after ``model.train()``
    a training step (under ``nnx.jit``) just calls ``model(x)``. ``recompute="stages"`` (or
    "all": the stem too) gives the same values and gradients from less memory: each stage's
    activations but the last one's are recomputed in the backward pass instead of kept
    (recompute.py).
    """

    def __init__(
        self, config: ModelConfig, image_size: Size, *, impl: str = "auto", rngs: nnx.Rngs
    ):
        config.validate()
        self.config = config
        self.image_size = tuple(image_size)
        self.colour = next((name for name in COLOUR_FLAGS if getattr(config, name)), None)
        self.stem, stages = build_backbone(config, impl=impl, rngs=rngs)
        self.stages = nnx.List(stages)
        self.feature_size = _feature_size(self.stem, stages, self.image_size)
        head = config.resolved_head
        if head in ("transformer", "mlp_mixer"):
            grid = config.token_mixer_grid
            check_grid(grid, self.feature_size, _image_size_hint(config, self.image_size))
        self.head = build_head(
            head,
            config.feature_channels,
            self.feature_size,
            config.token_mixer_grid,
            config.token_mixer_layers,
            config.dropout,
            rngs=rngs,
        )

    def __call__(
        self, x: jax.Array, *, return_intermediates: bool = False, recompute: str = "none"
    ) -> jax.Array | dict[str, jax.Array]:
        if recompute not in RECOMPUTE:
            raise ValueError(f"recompute must be one of {RECOMPUTE}, got {recompute!r}")
        run_stem = recompute_in_backward if recompute == "all" else _plain_call
        run_stage = _plain_call if recompute == "none" else recompute_in_backward
        transform = colour_transform(self.colour)
        if transform is not None:
            x = transform(x)  # (B, H, W, 1 or 3)
        stem = run_stem(self.stem, x)  # (B, H / 2 or H / 4, ..., C)
        features = stem
        # The backward pass starts with the last stage, so its activations are needed as soon
        # as the forward pass ends: recomputing them would cost time and save nothing. Its
        # backward pass is only pinned before the recomputations (keep_in_backward), if any.
        others_recomputed = recompute == "all" or (recompute == "stages" and len(self.stages) > 1)
        run_last = keep_in_backward if others_recomputed else _plain_call
        last = len(self.stages) - 1
        for index, stage in enumerate(self.stages):
            run = run_last if index == last else run_stage
            features = run(stage, features)  # (B, H', W', F) after the last stage
        logits = self.head(features)  # (B,)
        if return_intermediates:
            return {"stem": stem, "features": features, "logits": logits}
        return logits


def _plain_call(module: nnx.Module, x: jax.Array) -> jax.Array:
    return module(x)


def _normalise_size(image_size: int | Size) -> Size:
    if isinstance(image_size, int):
        return (image_size, image_size)
    h, w = (int(v) for v in image_size)
    return (h, w)


def _feature_size(stem: nnx.Module, stages: list[nnx.Module], image_size: Size) -> Size:
    size = stem.output_size(image_size)
    for stage in stages:
        size = stage.output_size(size)
    if min(size) < 1:
        raise ValueError(
            f"image size {image_size} is too small for this backbone (feature map {size})"
        )
    return size


def feature_map_size(config: ModelConfig, image_size: int | Size) -> Size:
    """(H', W') of the backbone output for an input of `image_size`, without building weights."""
    h, w = _normalise_size(image_size)

    def halve_conv(n: int) -> int:  # 3x3, stride 2, pad 1
        return (n - 1) // 2 + 1

    if config.arch_variant == "convnext":
        h, w = h // 4, w // 4
        halve = lambda n: n // 2  # noqa: E731 - 2x2 stride-2 downsample
    else:
        h, w = halve_conv(h), halve_conv(w)
        halve = halve_conv
    for i in range(config.num_blocks):
        if i % 2 == 0 and i > 0:
            h, w = halve(h), halve(w)
    return (h, w)


def _image_size_hint(config: ModelConfig, image_size: Size) -> str:
    """Suggest the nearest larger image size whose feature map the grid divides."""
    gh, gw = config.token_mixer_grid
    for extra in range(0, 257):
        h = image_size[0] + extra
        if feature_map_size(config, (h, image_size[1]))[0] % gh == 0:
            break
    for extra in range(0, 257):
        w = image_size[1] + extra
        if feature_map_size(config, (image_size[0], w))[1] % gw == 0:
            break
    return f" (e.g. image_size ({h}, {w}) instead of {image_size[0]}x{image_size[1]})"


def create_model(
    config: ModelConfig,
    image_size: int | Size = (48, 48),
    seed: int = 0,
    depthwise: str = "auto",
) -> HSCModel:
    """Build an HSC model with fresh weights.

    depthwise: "auto" (shifted slices on CPU, plain convolutions on GPU/TPU), "slices" or
    "grouped"; it selects how every convolution runs (see `layers`) and can be changed later
    with `set_depthwise`. Both give the same numbers from the same parameters.
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"config must be a ModelConfig, got {type(config).__name__}")
    rngs = nnx.Rngs(params=seed, dropout=jax.random.key(seed + 1, impl="rbg"))
    return HSCModel(config, _normalise_size(image_size), impl=resolve_impl(depthwise), rngs=rngs)


def set_depthwise(model: nnx.Module, depthwise: str) -> None:
    """Switch the convolution implementation of `model` in place ("grouped" before ONNX export)."""
    set_conv_impl(model, depthwise)


def count_parameters(model: nnx.Module) -> int:
    """Trainable parameters (nnx.Param, BN scale/bias included; running statistics excluded)."""
    params = nnx.state(model, nnx.Param)
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))
