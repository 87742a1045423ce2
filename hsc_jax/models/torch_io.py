"""Load a reference PyTorch state_dict into an HSCModel (layouts translated, shapes checked).

The reference names its modules with nn.Sequential indices; `torch_key_map` rebuilds those
names from our module tree, so the mapping follows the configuration (expansion 1, no SE,
dropout 0 shift the indices exactly as they do in PyTorch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import jax.numpy as jnp
import numpy as np
from flax import nnx

from hsc_jax.models.backbones import (
    BaselineStage,
    ConvBNAct,
    ConvNeXtBlock,
    ConvNeXtStage,
    ConvStem,
    InvertedSEStage,
    PatchStem,
)
from hsc_jax.models.heads import (
    AvgHead,
    AvgMaxMLPHead,
    MixerLayer,
    TokenMixerHead,
    TransformerLayer,
)
from hsc_jax.models.layers import Conv2d
from hsc_jax.models.model import HSCModel

# key -> (variable, torch array -> our array, shape PyTorch uses)
Entry = tuple[nnx.Variable, Callable[[np.ndarray], np.ndarray], tuple[int, ...]]


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _oihw_to_hwio(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 3, 1, 0)


def _out_in_to_in_out(a: np.ndarray) -> np.ndarray:
    return a.T


def _conv(prefix: str, conv: Conv2d) -> Iterator[tuple[str, Entry]]:
    kh, kw, i, o = conv.kernel.shape
    yield f"{prefix}.weight", (conv.kernel, _oihw_to_hwio, (o, i, kh, kw))
    if conv.bias is not None:
        yield f"{prefix}.bias", (conv.bias, _same, tuple(conv.bias.shape))


def _bn(prefix: str, bn: nnx.BatchNorm) -> Iterator[tuple[str, Entry]]:
    for torch_name, var in (
        ("weight", bn.scale),
        ("bias", bn.bias),
        ("running_mean", bn.mean),
        ("running_var", bn.var),
    ):
        yield f"{prefix}.{torch_name}", (var, _same, tuple(var.shape))


def _ln(prefix: str, ln: nnx.LayerNorm) -> Iterator[tuple[str, Entry]]:
    yield f"{prefix}.weight", (ln.scale, _same, tuple(ln.scale.shape))
    yield f"{prefix}.bias", (ln.bias, _same, tuple(ln.bias.shape))


def _linear(prefix: str, lin: nnx.Linear) -> Iterator[tuple[str, Entry]]:
    i, o = lin.kernel.shape
    yield f"{prefix}.weight", (lin.kernel, _out_in_to_in_out, (o, i))
    yield f"{prefix}.bias", (lin.bias, _same, tuple(lin.bias.shape))


def _conv_bn(prefix: str, index: int, layer: ConvBNAct) -> Iterator[tuple[str, Entry]]:
    # nn.Sequential(conv, bn, act): conv at `index`, bn at `index + 1`.
    yield from _conv(f"{prefix}.{index}", layer.conv)
    yield from _bn(f"{prefix}.{index + 1}", layer.bn)


def _stem(stem: nnx.Module) -> Iterator[tuple[str, Entry]]:
    if isinstance(stem, ConvStem):
        for k, layer in enumerate(stem.layers):
            yield from _conv_bn("stem", 3 * k, layer)
    elif isinstance(stem, PatchStem):
        yield from _conv("stem.0", stem.conv)
        yield from _ln("stem.1.norm", stem.norm)
    else:
        raise TypeError(f"no PyTorch mapping for stem {type(stem).__name__}")


def _convnext_block(prefix: str, block: ConvNeXtBlock) -> Iterator[tuple[str, Entry]]:
    yield f"{prefix}.gamma", (block.gamma, _same, tuple(block.gamma.shape))
    yield from _conv(f"{prefix}.dwconv", block.dwconv)
    yield from _ln(f"{prefix}.norm.norm", block.norm)
    yield from _linear(f"{prefix}.pwconv1", block.pwconv1)
    yield from _linear(f"{prefix}.pwconv2", block.pwconv2)


def _stage(prefix: str, stage: nnx.Module) -> Iterator[tuple[str, Entry]]:
    if isinstance(stage, BaselineStage):
        yield from _conv_bn(f"{prefix}.depthwise", 0, stage.depthwise)
        yield from _conv(f"{prefix}.pointwise.0", stage.pointwise)
        yield from _bn(f"{prefix}.pointwise.1", stage.bn)
    elif isinstance(stage, InvertedSEStage):
        block, index = f"{prefix}.block", 0
        if stage.expand is not None:  # conv, bn, SiLU
            yield from _conv_bn(block, index, stage.expand)
            index += 3
        yield from _conv_bn(block, index, stage.depthwise)  # conv, bn, SiLU
        index += 3
        if stage.se is not None:  # SE module with fc = (conv, ReLU, conv, Sigmoid)
            yield from _conv(f"{block}.{index}.fc.0", stage.se.fc1)
            yield from _conv(f"{block}.{index}.fc.2", stage.se.fc2)
            index += 1
        yield from _conv(f"{block}.{index}", stage.project)
        yield from _bn(f"{block}.{index + 1}", stage.bn)
    elif isinstance(stage, ConvNeXtStage):
        index = 0
        if stage.down_conv is not None:  # op = (LayerNorm wrapper, conv)
            yield from _ln(f"{prefix}.0.op.0.norm", stage.down_norm)
            yield from _conv(f"{prefix}.0.op.1", stage.down_conv)
            index = 1
        yield from _convnext_block(f"{prefix}.{index}", stage.block)
    else:
        raise TypeError(f"no PyTorch mapping for stage {type(stage).__name__}")


def _head(head: nnx.Module) -> Iterator[tuple[str, Entry]]:
    if isinstance(head, AvgHead):  # (BN, Dropout, Linear)
        yield from _bn("head.0", head.bn)
        yield from _linear("head.2", head.fc)
    elif isinstance(head, AvgMaxMLPHead):  # (BN, Dropout, Linear, ReLU, [Dropout], Linear)
        yield from _bn("head.0", head.bn)
        yield from _linear("head.2", head.fc1)
        yield from _linear(f"head.{5 if head.dropout2 is not None else 4}", head.fc2)
    elif isinstance(head, TokenMixerHead):
        for k, layer in enumerate(head.layers):
            if isinstance(layer, TransformerLayer):  # nn.TransformerEncoder(norm_first=True)
                p = f"head.mixer.layers.{k}"
                attn = layer.self_attn
                i, o = attn.in_proj.kernel.shape
                yield (
                    f"{p}.self_attn.in_proj_weight",
                    (attn.in_proj.kernel, _out_in_to_in_out, (o, i)),
                )
                yield f"{p}.self_attn.in_proj_bias", (attn.in_proj.bias, _same, (o,))
                yield from _linear(f"{p}.self_attn.out_proj", attn.out_proj)
                yield from _linear(f"{p}.linear1", layer.linear1)
                yield from _linear(f"{p}.linear2", layer.linear2)
                yield from _ln(f"{p}.norm1", layer.norm1)
                yield from _ln(f"{p}.norm2", layer.norm2)
            elif isinstance(layer, MixerLayer):
                p = f"head.mixer.{k}"
                yield from _ln(f"{p}.norm_tokens", layer.norm_tokens)
                yield from _linear(f"{p}.token_fc1", layer.token_fc1)
                yield from _linear(f"{p}.token_fc2", layer.token_fc2)
                yield from _ln(f"{p}.norm_channels", layer.norm_channels)
                yield from _linear(f"{p}.channel_fc1", layer.channel_fc1)
                yield from _linear(f"{p}.channel_fc2", layer.channel_fc2)
        yield from _ln("head.final_norm", head.final_norm)
        yield from _linear("head.fc", head.fc)
    else:
        raise TypeError(f"no PyTorch mapping for head {type(head).__name__}")


def torch_key_map(model: HSCModel) -> dict[str, Entry]:
    """Every PyTorch state_dict key of the reference model -> where it goes in `model`."""
    entries = dict(_stem(model.stem))
    for i, stage in enumerate(model.stages):
        entries.update(_stage(f"features.{i}", stage))
    entries.update(_head(model.head))
    return entries


def load_torch_state_dict(model: HSCModel, state: Mapping[str, np.ndarray]) -> HSCModel:
    """Copy a reference PyTorch state_dict ({key: array}) into `model` in place; returns it.

    Keys may carry a "state/" prefix (as in the reference .npz files); `num_batches_tracked`
    is ignored. Missing, unexpected or mis-shaped keys raise one ValueError listing them all.
    """
    state = {k.removeprefix("state/"): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    entries = torch_key_map(model)
    missing = sorted(set(entries) - set(state))
    unexpected = sorted(set(state) - set(entries))
    wrong_shape = [
        f"{key}: expected {shape}, got {tuple(np.shape(state[key]))}"
        for key, (_, _, shape) in entries.items()
        if key in state and tuple(np.shape(state[key])) != shape
    ]
    if missing or unexpected or wrong_shape:
        problems = []
        if missing:
            problems.append(f"missing keys ({len(missing)}): {missing}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {unexpected}")
        if wrong_shape:
            problems.append(f"wrong shapes ({len(wrong_shape)}): {wrong_shape}")
        raise ValueError(
            "the PyTorch state_dict does not match this model configuration "
            f"({model.config.arch_variant}, head {model.config.resolved_head}, "
            f"image {model.image_size}):\n  "
            + "\n  ".join(problems)
            + "\nCheck that the ModelConfig is the one the checkpoint was trained with."
        )
    for key, (var, convert, _) in entries.items():
        var.set_value(jnp.asarray(convert(np.asarray(state[key], dtype=np.float32))))
    return model
