"""libfacedetection's YuNet weights, read from its `facedetectcnn-data.cpp`, into `YuNet`.

The C++ file holds each layer's weights and biases as float arrays (`float name[16*32*1*1] =
{...};`) and `param_pConvInfo`, one `{channels, num_filters, is_depthwise, is_pointwise,
with_relu, weights, biases}` entry per conv layer in the order `facedetectcnn-model.cpp` uses
them. Layouts: a point-wise array is `[out][in]`, a depth-wise one `[tap][channel]` with
tap = ky * 3 + kx. The first layer is point-wise over an im2col of the image: its 32 inputs are
channel `(ky * 3 + kx) * 3 + c` of a 3x3 stride-2 window (the last 5 unused), so here it
becomes the kernel of an ordinary 3x3 stride-2 convolution.

layers = read_weights("facedetectcnn-data.cpp")    # 53 ConvLayer, checked
load_weights(model, layers)                       # in place
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from hsc_jax.errors import CheckpointError
from hsc_jax.models.layers import Conv2d
from hsc_jax.models.yunet import ConvDP, YuNet

NUM_CONV_LAYERS = 53
NUM_ARRAYS = 2 * NUM_CONV_LAYERS
# The im2col input of the first layer: 9 taps x 3 colours, padded to 32 channels.
IM2COL_CHANNELS, IM2COL_USED = 32, 27

_ARRAY = re.compile(r"float\s+(\w+)\s*\[([\d\s*]+)\]\s*=\s*\{([^}]*)\}\s*;")
_TABLE = re.compile(r"ConvInfoStruct\s+param_pConvInfo\s*\[\s*(\d+)\s*\]\s*=\s*\{(.*?)\}\s*;", re.S)
_ENTRY = re.compile(
    r"\{\s*(\d+)\s*,\s*(\d+)\s*,\s*(true|false)\s*,\s*(true|false)\s*,\s*(true|false)\s*,"
    r"\s*(\w+)\s*,\s*(\w+)\s*\}"
)


@dataclass(frozen=True)
class ConvLayer:
    """One `param_pConvInfo` entry with its arrays (float32, flat as in the C++ file)."""

    channels: int
    num_filters: int
    depthwise: bool
    pointwise: bool
    weights: np.ndarray
    biases: np.ndarray

    def weight_count(self) -> int:
        return 9 * self.channels if self.depthwise else self.channels * self.num_filters


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"YuNet weights file {path} is not libfacedetection's data file: {what}")


def _parse_arrays(text: str, path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for name, size, body in _ARRAY.findall(text):
        declared = math.prod(int(d) for d in size.split("*"))
        try:
            # C float literals: `0.0123f`, `0.f`, `1e-05f`; dropping the suffix leaves numbers.
            values = np.array(body.replace("f", "").split(","), dtype=np.float32)
        except ValueError as e:
            raise _fail(path, f"array {name} holds something other than numbers ({e})") from e
        if values.size != declared:
            raise _fail(path, f"array {name} declares {declared} values but holds {values.size}")
        arrays[name] = values
    return arrays


def read_weights(path: str | Path) -> list[ConvLayer]:
    """The 53 conv layers of `facedetectcnn-data.cpp`, in `param_pConvInfo` order.

    Raises CheckpointError naming the file when it is missing or not the expected data file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise CheckpointError(
            f"cannot read YuNet weights file {path} ({e.strerror or e}); pass libfacedetection's "
            "src/facedetectcnn-data.cpp"
        ) from e
    arrays = _parse_arrays(text, path)
    if len(arrays) != NUM_ARRAYS:
        raise _fail(path, f"found {len(arrays)} float arrays, expected {NUM_ARRAYS}")
    table = _TABLE.search(text)
    if table is None:
        raise _fail(path, "no `ConvInfoStruct param_pConvInfo[...] = {...};` table")
    entries = _ENTRY.findall(table.group(2))
    if int(table.group(1)) != NUM_CONV_LAYERS or len(entries) != NUM_CONV_LAYERS:
        raise _fail(
            path,
            f"param_pConvInfo declares {table.group(1)} layers and lists {len(entries)}, "
            f"expected {NUM_CONV_LAYERS}",
        )
    layers = []
    for index, (cin, cout, dw, pw, _relu, weights, biases) in enumerate(entries):
        # with_relu is not read: the calls in facedetectcnn-model.cpp decide the ReLU.
        missing = [name for name in (weights, biases) if name not in arrays]
        if missing:
            raise _fail(path, f"layer {index} names arrays that are not in the file: {missing}")
        layer = ConvLayer(
            int(cin), int(cout), dw == "true", pw == "true", arrays[weights], arrays[biases]
        )
        if layer.depthwise == layer.pointwise:
            raise _fail(path, f"layer {index} is neither only depth-wise nor only point-wise")
        if layer.weights.size != layer.weight_count() or layer.biases.size != layer.num_filters:
            raise _fail(
                path,
                f"layer {index} ({weights}: {layer.weights.size} weights, {biases}: "
                f"{layer.biases.size} biases) does not fit {cin} -> {cout}",
            )
        layers.append(layer)
    return layers


def pointwise_kernel(layer: ConvLayer) -> np.ndarray:
    """`[out][in]` -> HWIO (1, 1, in, out)."""
    return layer.weights.reshape(layer.num_filters, layer.channels).T[None, None]


def depthwise_kernel(layer: ConvLayer) -> np.ndarray:
    """`[tap][channel]` -> HWIO (3, 3, 1, channels)."""
    return layer.weights.reshape(3, 3, 1, layer.channels)


def im2col_kernel(layer: ConvLayer) -> np.ndarray:
    """The first layer's `[out][(ky * 3 + kx) * 3 + c]` -> HWIO (3, 3, 3, out)."""
    if layer.channels != IM2COL_CHANNELS or not layer.pointwise:
        raise ValueError(f"the first layer must be point-wise over {IM2COL_CHANNELS} channels")
    taps = layer.weights.reshape(layer.num_filters, layer.channels)[:, :IM2COL_USED]
    return taps.reshape(layer.num_filters, 3, 3, 3).transpose(1, 2, 3, 0)  # (ky, kx, c, out)


def _assign(conv: Conv2d, kernel: np.ndarray, bias: np.ndarray, index: int) -> None:
    expected = tuple(conv.kernel[...].shape)
    if kernel.shape != expected:
        raise ValueError(f"layer {index}: kernel {kernel.shape} does not fit {expected}")
    conv.kernel[...] = jnp.asarray(kernel, jnp.float32)
    conv.bias[...] = jnp.asarray(bias, jnp.float32)


def _assign_dp(unit: ConvDP, layers: Sequence[ConvLayer], first: int) -> None:
    pw, dw = layers[first], layers[first + 1]
    if not (pw.pointwise and dw.depthwise):
        raise ValueError(f"layers {first}, {first + 1} must be point-wise then depth-wise")
    _assign(unit.pointwise, pointwise_kernel(pw), pw.biases, first)
    _assign(unit.depthwise, depthwise_kernel(dw), dw.biases, first + 1)


def layer_order(model: YuNet) -> list[tuple[int, ConvDP]]:
    """(index of the point-wise layer in `param_pConvInfo`, the unit it fills), as
    facedetectcnn-model.cpp pairs them; layer 0 (the 3x3 conv) is loaded on its own."""
    order: list[tuple[int, ConvDP]] = [(1, model.stem.unit)]
    for stage, first in zip(model.stages, (3, 7, 11, 15, 19), strict=True):
        order += [(first, stage.first), (first + 2, stage.second)]
    # The pyramid's lateral units at strides 8, 16, 32, then each head kind for the 3 strides.
    order += [(23 + 2 * level, unit) for level, unit in enumerate(model.lateral)]
    for first, kind in ((29, "cls"), (35, "bbox"), (41, "obj"), (47, "kps")):
        order += [
            (first + 2 * level, getattr(head, kind)) for level, head in enumerate(model.heads)
        ]
    return order


def load_weights(model: YuNet, layers: Sequence[ConvLayer]) -> YuNet:
    """Copy the 53 layers into `model` (in place; also returned)."""
    if len(layers) != NUM_CONV_LAYERS:
        raise ValueError(f"expected {NUM_CONV_LAYERS} layers, got {len(layers)}")
    _assign(model.stem.conv, im2col_kernel(layers[0]), layers[0].biases, 0)
    for first, unit in layer_order(model):
        _assign_dp(unit, layers, first)
    return model


def yunet_from_file(path: str | Path) -> YuNet:
    """A YuNet with the weights of `facedetectcnn-data.cpp` at `path`; a CheckpointError naming
    the file when its layers do not fit the network."""
    layers = read_weights(path)
    try:
        return load_weights(YuNet(), layers)
    except ValueError as e:
        raise _fail(Path(path), f"its layers do not fit YuNet ({e})") from e
