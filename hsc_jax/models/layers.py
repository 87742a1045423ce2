"""Convolutions with PyTorch's geometry, in two interchangeable implementations, and norms.

Every convolution stores its kernel as HWIO ``(kh, kw, in / groups, out)`` and runs in one of
two forms that give the same numbers from the same parameters:

* ``"grouped"``: plain ``lax.conv_general_dilated`` (``feature_group_count = C`` for depthwise).
  Fast with cuDNN on GPU and what ONNX export needs (ordinary Conv nodes).
* ``"slices"``: forms that XLA's CPU backend runs well. Its grouped convolution is 4-10x slower
  than a sum of shifted (strided) slices times per-channel weights, so depthwise convolutions
  become ``kh * kw`` multiply-adds; 1x1 convolutions become matmuls; patchify convolutions
  (kernel == stride, no padding) become a reshape and a matmul; other dense convolutions
  become an im2col (concatenated shifted slices) and one matmul.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

ConvImpl = Literal["slices", "grouped"]
CONV_IMPLS = ("auto", "slices", "grouped")

Padding = tuple[tuple[int, int], tuple[int, int]]


def _host_generator(key: jax.Array) -> np.random.Generator | None:
    """A numpy generator seeded from a concrete JAX key; None while tracing (eval_shape, jit).

    Initialisers draw on the host because on XLA's CPU backend every new parameter shape
    compiles its own threefry kernel (0.5-3 s each), which made building a model take
    seconds to minutes; numpy draws are instant and deterministic per (seed, parameter).
    """
    if isinstance(key, jax.core.Tracer):
        return None
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def conv_kernel_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """PyTorch's kaiming_normal_(mode="fan_out", nonlinearity="relu") for HWIO kernels.

    std = sqrt(2 / (out * kh * kw)); PyTorch does not divide fan-out by the groups.
    """
    std = math.sqrt(2.0 / (shape[0] * shape[1] * shape[3]))
    gen = _host_generator(key)
    if gen is None:
        return std * jax.random.normal(key, shape, dtype)
    return jnp.asarray(gen.normal(0.0, std, shape).astype(dtype))


def uniform_init(bound: float):
    """U(-bound, bound), PyTorch's default for conv biases (bound = 1 / sqrt(fan_in))."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        gen = _host_generator(key)
        if gen is None:
            return jax.random.uniform(key, shape, dtype, -bound, bound)
        return jnp.asarray(gen.uniform(-bound, bound, shape).astype(dtype))

    return init


def linear_kernel_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Glorot (Xavier) uniform for (in, out) kernels, like PyTorch's xavier_uniform_."""
    return uniform_init(math.sqrt(6.0 / (shape[-2] + shape[-1])))(key, shape, dtype)


def resolve_impl(impl: str) -> ConvImpl:
    """'auto' -> 'slices' on the CPU backend, 'grouped' on GPU/TPU."""
    if impl not in CONV_IMPLS:
        raise ValueError(f"unknown depthwise implementation {impl!r}; choose one of {CONV_IMPLS}")
    if impl == "auto":
        return "slices" if jax.default_backend() == "cpu" else "grouped"
    return impl  # type: ignore[return-value]


def conv_output_size(size: int, kernel: int, stride: int, pad: tuple[int, int]) -> int:
    """PyTorch's output length for one spatial axis (floor division, like Conv2d)."""
    return (size + pad[0] + pad[1] - kernel) // stride + 1


def _shifted_slices(x: jax.Array, kh: int, kw: int, stride: int, padding: Padding):
    """Yield ((i, j), window) for each kernel tap: x padded, sliced at offset (i, j) with stride.

    x: (B, H, W, C); each window: (B, Ho, Wo, C), the input pixels that tap (i, j) sees.
    """
    x = jnp.pad(x, ((0, 0), padding[0], padding[1], (0, 0)))
    b, hp, wp, c = x.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    for i in range(kh):
        for j in range(kw):
            limit = (b, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, c)
            yield (i, j), lax.slice(x, (0, i, j, 0), limit, (1, stride, stride, 1))


def depthwise_slices(x: jax.Array, kernel: jax.Array, stride: int, padding: Padding) -> jax.Array:
    """Depthwise conv as a sum of shifted slices: x (B, H, W, C), kernel (kh, kw, 1, C)."""
    kh, kw = kernel.shape[:2]
    out = None
    for (i, j), window in _shifted_slices(x, kh, kw, stride, padding):
        term = window * kernel[i, j, 0]  # (B, Ho, Wo, C) * (C,)
        out = term if out is None else out + term
    return out


@jax.custom_vjp
def pixel_matmul(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """`x @ kernel` for x (..., K) and kernel (K, N): a dense convolution over every pixel.

    Only the backward differs from `jnp.dot`'s. The kernel gradient contracts over all pixels,
    and XLA's CPU backend feeds that dot its second operand as a transposed copy; left to
    autodiff the second operand is the output gradient, often the wider one (an expand
    convolution's 128 channels against its input's 32), written out transposed by the fusion
    that computes it. Here the narrower of the two goes second, so the copy is the small one.
    """
    return jnp.dot(x, kernel)


def _pixel_matmul_forward(x: jax.Array, kernel: jax.Array):
    return jnp.dot(x, kernel), (x, kernel)


def _pixel_matmul_backward(saved, grad: jax.Array):
    x, kernel = saved
    pixels_in = x.reshape(-1, x.shape[-1])  # (M, K)
    pixels_out = grad.reshape(-1, grad.shape[-1])  # (M, N)
    over_pixels = (((0,), (0,)), ((), ()))
    if pixels_in.shape[1] >= pixels_out.shape[1]:
        kernel_grad = lax.dot_general(pixels_in, pixels_out, over_pixels)
    else:
        kernel_grad = lax.dot_general(pixels_out, pixels_in, over_pixels).T
    return jnp.dot(grad, kernel.T), kernel_grad


pixel_matmul.defvjp(_pixel_matmul_forward, _pixel_matmul_backward)


def dense_slices(x: jax.Array, kernel: jax.Array, stride: int, padding: Padding) -> jax.Array:
    """Dense conv without lax.conv: x (B, H, W, Cin), kernel (kh, kw, Cin, Cout)."""
    kh, kw, cin, cout = kernel.shape
    no_pad = padding == ((0, 0), (0, 0))
    if kh == kw == 1 and stride == 1 and no_pad:
        return pixel_matmul(x, kernel[0, 0])  # (B, H, W, Cout)
    if kh == kw == stride and no_pad:
        # Patchify: non-overlapping k x k patches; PyTorch drops the remainder rows/cols.
        b, h, w, _ = x.shape
        ho, wo = h // kh, w // kw
        x = x[:, : ho * kh, : wo * kw].reshape(b, ho, kh, wo, kw, cin)
        x = x.transpose(0, 1, 3, 2, 4, 5).reshape(b, ho, wo, kh * kw * cin)
        return pixel_matmul(x, kernel.reshape(kh * kw * cin, cout))
    # im2col: taps concatenated in (i, j, cin) order, matching the kernel's HWI flattening.
    cols = [window for _, window in _shifted_slices(x, kh, kw, stride, padding)]
    patches = jnp.concatenate(cols, axis=-1)  # (B, Ho, Wo, kh * kw * Cin)
    return pixel_matmul(patches, kernel.reshape(kh * kw * cin, cout))


def conv_grouped(
    x: jax.Array, kernel: jax.Array, stride: int, padding: Padding, groups: int
) -> jax.Array:
    """The plain XLA convolution (NHWC / HWIO)."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=(stride, stride),
        padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )


class Conv2d(nnx.Module):
    """PyTorch-style Conv2d (square kernel, explicit symmetric padding) on NHWC tensors.

    ``depthwise=True`` means groups = in_channels = out_channels. ``impl`` ("slices" or
    "grouped") picks the implementation and can be changed at any time (see `set_conv_impl`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        depthwise: bool = False,
        use_bias: bool = False,
        impl: str = "auto",
        rngs: nnx.Rngs,
    ):
        if depthwise and in_channels != out_channels:
            raise ValueError(
                f"a depthwise conv needs in_channels == out_channels, got {in_channels} -> "
                f"{out_channels}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding: Padding = ((padding, padding), (padding, padding))
        self.groups = in_channels if depthwise else 1
        self.impl = resolve_impl(impl)
        shape = (kernel_size, kernel_size, in_channels // self.groups, out_channels)
        self.kernel = nnx.Param(conv_kernel_init(rngs.params(), shape, jnp.float32))
        if use_bias:
            # PyTorch's default conv bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
            bound = 1.0 / math.sqrt(shape[0] * shape[1] * shape[2])
            self.bias = nnx.Param(uniform_init(bound)(rngs.params(), (out_channels,)))
        else:
            self.bias = None

    def __call__(self, x: jax.Array) -> jax.Array:
        # x: (B, H, W, Cin) -> (B, Ho, Wo, Cout)
        kernel = self.kernel[...]
        if self.impl == "grouped":
            y = conv_grouped(x, kernel, self.stride, self.padding, self.groups)
        elif self.groups > 1:
            y = depthwise_slices(x, kernel, self.stride, self.padding)
        else:
            y = dense_slices(x, kernel, self.stride, self.padding)
        if self.bias is not None:
            y = y + self.bias[...]
        return y

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """Spatial (H, W) after this conv for an input of spatial size `size`."""
        k, s = self.kernel_size, self.stride
        return (
            conv_output_size(size[0], k, s, self.padding[0]),
            conv_output_size(size[1], k, s, self.padding[1]),
        )


def batch_norm(channels: int, *, rngs: nnx.Rngs) -> nnx.BatchNorm:
    """BN with PyTorch's defaults: eps 1e-5, running-stat momentum 0.1 (0.9 in Flax terms)."""
    return nnx.BatchNorm(channels, momentum=0.9, epsilon=1e-5, rngs=rngs)


def layer_norm(channels: int, eps: float, *, rngs: nnx.Rngs) -> nnx.LayerNorm:
    """LN over the last (channel) axis; the two-pass variance keeps parity with PyTorch."""
    return nnx.LayerNorm(channels, epsilon=eps, use_fast_variance=False, rngs=rngs)


def linear(in_features: int, out_features: int, *, rngs: nnx.Rngs) -> nnx.Linear:
    """Linear layer with the reference init: Glorot-uniform weights, zero bias."""
    return nnx.Linear(in_features, out_features, kernel_init=linear_kernel_init, rngs=rngs)


def gelu(x: jax.Array) -> jax.Array:
    """Exact (erf) GELU, PyTorch's nn.GELU() default."""
    return jax.nn.gelu(x, approximate=False)


def set_conv_impl(model: nnx.Module, impl: str) -> None:
    """Switch every Conv2d inside `model` to `impl` ("auto", "slices" or "grouped") in place."""
    resolved = resolve_impl(impl)
    for _, module in nnx.iter_modules(model):
        if isinstance(module, Conv2d):
            module.impl = resolved
