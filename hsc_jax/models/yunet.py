"""YuNet, libfacedetection's face detector, as Flax NNX modules (NHWC).

A port of `facedetectcnn-model.cpp` (BSD-3, Shiqi Yu; weights: `yunet_weights.py`): a 3x3
stride-2 conv, then units of a point-wise and a depth-wise 3x3 convolution (`ConvDP`), 2x2 max
pools, a feature pyramid (x2 nearest upsampling added to the finer level) and, at strides 8, 16
and 32, four heads each: class, box, objectness and 5 landmarks. The ReLU placement follows the
C++ calls: after the first conv, after the depth-wise half of every unit except the heads'.

model = yunet_from_file("facedetectcnn-data.cpp")     # hsc_jax.models.yunet_weights
cls, bbox, obj, kps = model(images)   # (B, H, W, 3) BGR 0-255, H and W multiples of 32
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from hsc_jax.models.layers import Conv2d

STRIDES = (8, 16, 32)
PAD_MULTIPLE = 32  # the coarsest stride: every level then has whole cells
STEM_CHANNELS = 16
# Output channels of the five backbone units (each a pair of ConvDP: in -> out -> out).
STAGE_CHANNELS = ((16, 16, 32), (32, 32, 64), (64, 64, 64), (64, 64, 64), (64, 64, 64))
NECK_CHANNELS = 64
HEAD_OUTPUTS = {"cls": 1, "bbox": 4, "obj": 1, "kps": 10}


class ConvDP(nnx.Module):
    """libfacedetection's `convolutionDP`: a 1x1 convolution (no activation), then a depth-wise
    3x3 one (padding 1), then a ReLU unless `relu` is False (the heads)."""

    def __init__(self, cin: int, cout: int, *, relu: bool = True, impl: str, rngs: nnx.Rngs):
        self.pointwise = Conv2d(cin, cout, 1, use_bias=True, impl=impl, rngs=rngs)
        self.depthwise = Conv2d(
            cout, cout, 3, padding=1, depthwise=True, use_bias=True, impl=impl, rngs=rngs
        )
        self.relu = relu

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.depthwise(self.pointwise(x))  # (B, H, W, Cout)
        return jax.nn.relu(y) if self.relu else y


class Unit4(nnx.Module):
    """`convolution4layerUnit`: two ConvDP, both with ReLU."""

    def __init__(self, cin: int, mid: int, cout: int, *, impl: str, rngs: nnx.Rngs):
        self.first = ConvDP(cin, mid, impl=impl, rngs=rngs)
        self.second = ConvDP(mid, cout, impl=impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.second(self.first(x))


class Stem(nnx.Module):
    """The C++ im2col + point-wise "conv_head" written as what it is, a 3x3 stride-2 conv with
    padding 1 (and ReLU), then one ConvDP."""

    def __init__(self, *, impl: str, rngs: nnx.Rngs):
        self.conv = Conv2d(
            3, STEM_CHANNELS, 3, stride=2, padding=1, use_bias=True, impl=impl, rngs=rngs
        )
        self.unit = ConvDP(STEM_CHANNELS, STEM_CHANNELS, impl=impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.unit(jax.nn.relu(self.conv(x)))  # (B, H/2, W/2, 16)


class Heads(nnx.Module):
    """The four heads of one pyramid level (ConvDP without ReLU each)."""

    def __init__(self, *, impl: str, rngs: nnx.Rngs):
        self.cls = ConvDP(NECK_CHANNELS, HEAD_OUTPUTS["cls"], relu=False, impl=impl, rngs=rngs)
        self.bbox = ConvDP(NECK_CHANNELS, HEAD_OUTPUTS["bbox"], relu=False, impl=impl, rngs=rngs)
        self.obj = ConvDP(NECK_CHANNELS, HEAD_OUTPUTS["obj"], relu=False, impl=impl, rngs=rngs)
        self.kps = ConvDP(NECK_CHANNELS, HEAD_OUTPUTS["kps"], relu=False, impl=impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        return {name: getattr(self, name)(x) for name in HEAD_OUTPUTS}


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 stride-2 max pool (`maxpooling2x2S2`; H and W are even here), on (B * C, H, W)
    planes.

    Not `nnx.max_pool`: jax2onnx 0.17.1's plugin keeps a symbolic H and W unchanged through the
    pool, so an export with dynamic H and W fails at the pyramid's first addition. A
    `lax.reduce_window` over all of NHWC becomes a 4-D MaxPool that onnxruntime rejects; over
    3-D planes it becomes a plain 2-D MaxPool, about a third faster in onnxruntime than a
    reshape-and-max (which exports as ReduceMax between layout Transposes): 5.6 against 8.7 ms
    for the whole detector at 512x384.
    """
    b, h, w, c = x.shape
    planes = jnp.transpose(x, (0, 3, 1, 2)).reshape(b * c, h, w)
    pooled = lax.reduce_window(planes, -jnp.inf, lax.max, (1, 2, 2), (1, 2, 2), "VALID")
    return jnp.transpose(pooled.reshape(b, c, h // 2, w // 2), (0, 2, 3, 1))


def upsample_x2(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2 (`upsampleX2`): each cell copied to a 2x2 block."""
    b, h, w, c = x.shape
    y = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
    return y.reshape(b, 2 * h, 2 * w, c)


def flatten_cells(x: jax.Array) -> jax.Array:
    """(B, h, w, C) -> (B, h * w, C), cells in row-major order as the C++ `blob2vector`."""
    b, h, w, c = x.shape
    return x.reshape(b, h * w, c)


class YuNet(nnx.Module):
    """YuNet (libfacedetection, 2022 weights). `impl`: "grouped" (plain convolutions, what ONNX
    export needs) or "slices" (faster under XLA's CPU backend; same numbers)."""

    def __init__(self, *, impl: str = "grouped", rngs: nnx.Rngs | None = None):
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.stem = Stem(impl=impl, rngs=rngs)
        self.stages = nnx.List([Unit4(a, b, c, impl=impl, rngs=rngs) for a, b, c in STAGE_CHANNELS])
        self.lateral = nnx.List(
            [ConvDP(NECK_CHANNELS, NECK_CHANNELS, impl=impl, rngs=rngs) for _ in STRIDES]
        )
        self.heads = nnx.List([Heads(impl=impl, rngs=rngs) for _ in STRIDES])

    def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
        """images (B, H, W, 3) BGR 0-255, H and W multiples of 32 -> the raw head outputs over
        all cells of strides 8, 16, 32 in that order: {"cls": (B, N, 1), "bbox": (B, N, 4),
        "obj": (B, N, 1), "kps": (B, N, 10)}, N = sum of (H / s) * (W / s)."""
        x = max_pool_2x2(self.stem(images))  # (B, H/4, W/4, 16)
        x = self.stages[1](self.stages[0](x))  # (B, H/4, W/4, 64)
        fine = self.stages[2](max_pool_2x2(x))  # stride 8
        middle = self.stages[3](max_pool_2x2(fine))  # stride 16
        coarse = self.stages[4](max_pool_2x2(middle))  # stride 32
        # Top-down: each level refined, then upsampled and added to the next finer one.
        coarse = self.lateral[2](coarse)
        middle = self.lateral[1](upsample_x2(coarse) + middle)
        fine = self.lateral[0](upsample_x2(middle) + fine)
        levels = [
            head(level) for head, level in zip(self.heads, (fine, middle, coarse), strict=True)
        ]
        return {
            name: jnp.concatenate([flatten_cells(level[name]) for level in levels], axis=1)
            for name in HEAD_OUTPUTS
        }
