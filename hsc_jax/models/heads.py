"""Heads: features (B, H', W', F) -> logits (B,)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from hsc_jax.models.layers import batch_norm, gelu, layer_norm, linear


class AvgHead(nnx.Module):
    """Global average -> BN1d(F) -> dropout -> linear F -> 1."""

    def __init__(self, features: int, dropout: float, *, rngs: nnx.Rngs):
        self.bn = batch_norm(features, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.fc = linear(features, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.mean(x, axis=(1, 2))  # (B, F)
        return self.fc(self.dropout(self.bn(x)))[:, 0]


class AvgMaxMLPHead(nnx.Module):
    """concat(avg, max) -> BN1d(2F) -> dropout -> linear 2F -> max(16, F) -> ReLU -> [dropout]
    -> linear -> 1."""

    def __init__(self, features: int, dropout: float, *, rngs: nnx.Rngs):
        hidden = max(16, features)
        self.bn = batch_norm(2 * features, rngs=rngs)
        self.dropout1 = nnx.Dropout(dropout, rngs=rngs)
        self.fc1 = linear(2 * features, hidden, rngs=rngs)
        # The reference only inserts the second dropout when p > 0 (it shifts the torch keys).
        self.dropout2 = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None
        self.fc2 = linear(hidden, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.concatenate([jnp.mean(x, axis=(1, 2)), jnp.max(x, axis=(1, 2))], axis=-1)  # (B, 2F)
        x = jax.nn.relu(self.fc1(self.dropout1(self.bn(x))))  # (B, hidden)
        if self.dropout2 is not None:
            x = self.dropout2(x)
        return self.fc2(x)[:, 0]


def attention_heads(features: int) -> int:
    """The largest divisor of F that is <= 8."""
    return max(h for h in range(1, min(8, features) + 1) if features % h == 0)


class SelfAttention(nnx.Module):
    """PyTorch nn.MultiheadAttention (self-attention, batch first, biased projections)."""

    def __init__(self, features: int, dropout: float, *, rngs: nnx.Rngs):
        self.num_heads = attention_heads(features)
        self.in_proj = linear(features, 3 * features, rngs=rngs)  # q, k, v stacked, like torch
        self.out_proj = linear(features, features, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)  # on the attention weights

    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, f = x.shape
        h = self.num_heads
        qkv = self.in_proj(x).reshape(b, t, 3, h, f // h)  # (B, T, 3, heads, d)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, T, heads, d)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(f // h)
        weights = self.dropout(jax.nn.softmax(logits, axis=-1))  # (B, heads, T, T)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, f)
        return self.out_proj(out)


class TransformerLayer(nnx.Module):
    """Pre-norm encoder layer: x + drop(MHA(LN1 x)); x + drop(FF(LN2 x)), FF with exact GELU."""

    def __init__(self, features: int, dropout: float, *, rngs: nnx.Rngs):
        dff = max(128, 2 * features)
        self.norm1 = layer_norm(features, 1e-5, rngs=rngs)
        self.self_attn = SelfAttention(features, dropout, rngs=rngs)
        self.dropout1 = nnx.Dropout(dropout, rngs=rngs)
        self.norm2 = layer_norm(features, 1e-5, rngs=rngs)
        self.linear1 = linear(features, dff, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.linear2 = linear(dff, features, rngs=rngs)
        self.dropout2 = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + self.dropout1(self.self_attn(self.norm1(x)))  # (B, T, F)
        y = self.linear2(self.dropout(gelu(self.linear1(self.norm2(x)))))
        return x + self.dropout2(y)


class MixerLayer(nnx.Module):
    """MLP-Mixer: token MLP on (B, F, T) then channel MLP on (B, T, F), each pre-LN + residual."""

    def __init__(self, tokens: int, features: int, dropout: float, *, rngs: nnx.Rngs):
        th, fh = max(tokens, 2 * tokens), max(features, 2 * features)
        self.norm_tokens = layer_norm(features, 1e-5, rngs=rngs)
        self.token_fc1 = linear(tokens, th, rngs=rngs)
        self.token_fc2 = linear(th, tokens, rngs=rngs)
        self.norm_channels = layer_norm(features, 1e-5, rngs=rngs)
        self.channel_fc1 = linear(features, fh, rngs=rngs)
        self.channel_fc2 = linear(fh, features, rngs=rngs)
        self.drops = nnx.List([nnx.Dropout(dropout, rngs=rngs) for _ in range(4)])

    def __call__(self, x: jax.Array) -> jax.Array:
        d = self.drops
        y = self.norm_tokens(x).transpose(0, 2, 1)  # (B, F, T)
        y = d[1](self.token_fc2(d[0](gelu(self.token_fc1(y)))))
        x = x + y.transpose(0, 2, 1)  # (B, T, F)
        y = self.norm_channels(x)
        y = d[3](self.channel_fc2(d[2](gelu(self.channel_fc1(y)))))
        return x + y


class TokenMixerHead(nnx.Module):
    """Grid-pooled tokens -> mixer layers -> mean over tokens -> LN -> dropout -> linear F -> 1."""

    def __init__(
        self, kind: str, features: int, feature_size: tuple[int, int], grid: tuple[int, int],
        num_layers: int, dropout: float, *, rngs: nnx.Rngs,
    ):  # fmt: skip
        check_grid(grid, feature_size)
        self.grid = tuple(grid)
        tokens = grid[0] * grid[1]
        if kind == "transformer":
            layers = [TransformerLayer(features, dropout, rngs=rngs) for _ in range(num_layers)]
        else:
            layers = [MixerLayer(tokens, features, dropout, rngs=rngs) for _ in range(num_layers)]
        self.layers = nnx.List(layers)
        self.final_norm = layer_norm(features, 1e-5, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.fc = linear(features, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, f = x.shape
        gh, gw = self.grid
        # Average pool with window = stride = (H'/gh, W'/gw), flattened row-major.
        x = x.reshape(b, gh, h // gh, gw, w // gw, f).mean(axis=(2, 4)).reshape(b, gh * gw, f)
        for layer in self.layers:
            x = layer(x)  # (B, T, F)
        x = self.final_norm(jnp.mean(x, axis=1))  # (B, F)
        return self.fc(self.dropout(x))[:, 0]


def check_grid(grid: tuple[int, int], feature_size: tuple[int, int], hint: str = "") -> None:
    """Raise a ValueError naming both shapes when the token grid does not tile the feature map."""
    (gh, gw), (fh, fw) = grid, feature_size
    if fh % gh == 0 and fw % gw == 0:
        return
    rows = [d for d in range(1, fh + 1) if fh % d == 0]
    cols = [d for d in range(1, fw + 1) if fw % d == 0]
    raise ValueError(
        f"token_mixer_grid {gh}x{gw} does not divide the backbone's feature map {fh}x{fw} "
        f"(H' x W'); choose grid rows from {rows} and columns from {cols} "
        f"(e.g. token_mixer_grid=({max(d for d in rows if d <= gh)}, "
        f"{max(d for d in cols if d <= gw)})), or an image size whose feature map is a multiple "
        f"of the grid{hint}"
    )


def build_head(
    kind: str, features: int, feature_size: tuple[int, int], grid: tuple[int, int],
    num_layers: int, dropout: float, *, rngs: nnx.Rngs,
) -> nnx.Module:  # fmt: skip
    """The head named `kind` (already resolved from "auto")."""
    if kind == "avg":
        return AvgHead(features, dropout, rngs=rngs)
    if kind == "avgmax_mlp":
        return AvgMaxMLPHead(features, dropout, rngs=rngs)
    if kind in ("transformer", "mlp_mixer"):
        return TokenMixerHead(kind, features, feature_size, grid, num_layers, dropout, rngs=rngs)
    raise ValueError(f"unknown head_variant {kind!r}")
