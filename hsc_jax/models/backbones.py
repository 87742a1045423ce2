"""Backbones: stem + N stages for "baseline", "inverted_se" and "convnext" (NHWC throughout).

Stage i (0-based) has stride 2 when i is even and i > 0, else 1; its channels double exactly
when its stride is 2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from hsc_jax.models.config import ModelConfig
from hsc_jax.models.layers import Conv2d, batch_norm, gelu, layer_norm, linear

Size = tuple[int, int]


def stage_plan(config: ModelConfig) -> list[tuple[int, int, int]]:
    """(in_channels, out_channels, stride) for each stage."""
    plan, channels = [], config.base_channels
    for i in range(config.num_blocks):
        stride = 2 if i % 2 == 0 and i > 0 else 1
        out = channels * 2 if stride == 2 else channels
        plan.append((channels, out, stride))
        channels = out
    return plan


class ConvBNAct(nnx.Module):
    """Conv (no bias) -> BN -> activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, act, *, rngs: nnx.Rngs, **kw):
        self.conv = Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, rngs=rngs, **kw)
        self.bn = batch_norm(cout, rngs=rngs)
        self.act = act

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.act(self.bn(self.conv(x)))

    def output_size(self, size: Size) -> Size:
        return self.conv.output_size(size)


# ---------------------------------------------------------------------------------------------
# Stems


class ConvStem(nnx.Module):
    """baseline: conv3x3 s2 + BN + ReLU; inverted_se: (conv3x3 s1 + BN + SiLU, conv3x3 s2 + ...)."""

    def __init__(self, cin: int, channels: int, variant: str, *, impl: str, rngs: nnx.Rngs):
        if variant == "baseline":
            specs = [(cin, channels, 2, jax.nn.relu)]
        else:
            specs = [(cin, channels, 1, jax.nn.silu), (channels, channels, 2, jax.nn.silu)]
        self.layers = nnx.List(
            [ConvBNAct(a, b, 3, s, act, impl=impl, rngs=rngs) for a, b, s, act in specs]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x

    def output_size(self, size: Size) -> Size:
        for layer in self.layers:
            size = layer.output_size(size)
        return size


class PatchStem(nnx.Module):
    """convnext: conv 4x4 stride 4 with bias (a patchify) + LN (eps 1e-6)."""

    def __init__(self, cin: int, channels: int, *, impl: str, rngs: nnx.Rngs):
        self.conv = Conv2d(cin, channels, 4, stride=4, use_bias=True, impl=impl, rngs=rngs)
        self.norm = layer_norm(channels, 1e-6, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.norm(self.conv(x))

    def output_size(self, size: Size) -> Size:
        return self.conv.output_size(size)


# ---------------------------------------------------------------------------------------------
# Stages


class BaselineStage(nnx.Module):
    """Depthwise-separable: dw3x3 + BN + ReLU, pw1x1 + BN, (+ input), ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, *, impl: str, rngs: nnx.Rngs):
        self.depthwise = ConvBNAct(
            cin, cin, 3, stride, jax.nn.relu, depthwise=True, impl=impl, rngs=rngs
        )
        self.pointwise = Conv2d(cin, cout, 1, impl=impl, rngs=rngs)
        self.bn = batch_norm(cout, rngs=rngs)
        self.residual = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.bn(self.pointwise(self.depthwise(x)))
        return jax.nn.relu(x + y if self.residual else y)

    def output_size(self, size: Size) -> Size:
        return self.depthwise.output_size(size)


class SqueezeExcite(nnx.Module):
    """Global average -> 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) -> sigmoid -> rescale."""

    def __init__(self, channels: int, reduction: int, *, impl: str, rngs: nnx.Rngs):
        squeezed = max(1, channels // reduction)
        self.fc1 = Conv2d(channels, squeezed, 1, use_bias=True, impl=impl, rngs=rngs)
        self.fc2 = Conv2d(squeezed, channels, 1, use_bias=True, impl=impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        s = jnp.mean(x, axis=(1, 2), keepdims=True)  # (B, 1, 1, h)
        s = jax.nn.sigmoid(self.fc2(jax.nn.relu(self.fc1(s))))
        return x * s


class InvertedSEStage(nnx.Module):
    """MobileNetV2-style: [1x1 expand + BN + SiLU], dw3x3 + BN + SiLU, [SE], 1x1 + BN, (+x),
    SiLU."""

    def __init__(
        self, cin: int, cout: int, stride: int, expansion: int, se_reduction: int,
        *, impl: str, rngs: nnx.Rngs,
    ):  # fmt: skip
        hidden = cin * expansion
        silu = jax.nn.silu
        self.expand = (
            ConvBNAct(cin, hidden, 1, 1, silu, impl=impl, rngs=rngs) if expansion != 1 else None
        )
        self.depthwise = ConvBNAct(
            hidden, hidden, 3, stride, silu, depthwise=True, impl=impl, rngs=rngs
        )
        self.se = (
            SqueezeExcite(hidden, se_reduction, impl=impl, rngs=rngs) if se_reduction > 0 else None
        )
        self.project = Conv2d(hidden, cout, 1, impl=impl, rngs=rngs)
        self.bn = batch_norm(cout, rngs=rngs)
        self.residual = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.expand(x) if self.expand is not None else x  # (B, H, W, h)
        y = self.depthwise(y)  # (B, H / s, W / s, h)
        if self.se is not None:
            y = self.se(y)
        y = self.bn(self.project(y))  # (B, H / s, W / s, out)
        return jax.nn.silu(x + y if self.residual else y)

    def output_size(self, size: Size) -> Size:
        return self.depthwise.output_size(size)


class ConvNeXtBlock(nnx.Module):
    """dw7x7 (bias) -> LN -> linear d->4d -> GELU -> linear 4d->d -> * gamma -> + input."""

    def __init__(self, dim: int, *, impl: str, rngs: nnx.Rngs):
        self.dwconv = Conv2d(
            dim, dim, 7, padding=3, depthwise=True, use_bias=True, impl=impl, rngs=rngs
        )
        self.norm = layer_norm(dim, 1e-6, rngs=rngs)
        self.pwconv1 = linear(dim, 4 * dim, rngs=rngs)
        self.pwconv2 = linear(4 * dim, dim, rngs=rngs)
        # Layer scale starts tiny so each block begins close to the identity.
        self.gamma = nnx.Param(jnp.full((dim,), 1e-6, jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.norm(self.dwconv(x))  # (B, H, W, d)
        y = self.pwconv2(gelu(self.pwconv1(y)))  # (B, H, W, 4d) -> (B, H, W, d)
        return x + self.gamma[...] * y


class ConvNeXtStage(nnx.Module):
    """[LN + conv k x k stride s (bias) when the shape changes], then one ConvNeXt block."""

    def __init__(self, cin: int, cout: int, stride: int, *, impl: str, rngs: nnx.Rngs):
        if stride != 1 or cin != cout:
            k = 2 if stride == 2 else 1
            self.down_norm = layer_norm(cin, 1e-6, rngs=rngs)
            self.down_conv = Conv2d(
                cin, cout, k, stride=stride, use_bias=True, impl=impl, rngs=rngs
            )
        else:
            self.down_norm, self.down_conv = None, None
        self.block = ConvNeXtBlock(cout, impl=impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.down_conv is not None:
            x = self.down_conv(self.down_norm(x))
        return self.block(x)

    def output_size(self, size: Size) -> Size:
        return self.down_conv.output_size(size) if self.down_conv is not None else size


def build_backbone(config: ModelConfig, *, impl: str, rngs: nnx.Rngs):
    """(stem, list of stages) for `config.arch_variant`."""
    cin, c = config.in_channels, config.base_channels
    if config.arch_variant == "convnext":
        stem = PatchStem(cin, c, impl=impl, rngs=rngs)
    else:
        stem = ConvStem(cin, c, config.arch_variant, impl=impl, rngs=rngs)
    stages = []
    for a, b, s in stage_plan(config):
        if config.arch_variant == "baseline":
            stages.append(BaselineStage(a, b, s, impl=impl, rngs=rngs))
        elif config.arch_variant == "inverted_se":
            stages.append(
                InvertedSEStage(
                    a, b, s, config.expansion, config.se_reduction, impl=impl, rngs=rngs
                )
            )
        else:
            stages.append(ConvNeXtStage(a, b, s, impl=impl, rngs=rngs))
    return stem, stages
