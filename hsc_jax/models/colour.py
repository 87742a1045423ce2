"""Colour stems: fixed RGB -> Y / Lab / Luv transforms (no parameters), NHWC in [0, 1]."""

from __future__ import annotations

import jax
import jax.numpy as jnp

# sRGB (linear) -> XYZ, D65.
# Python floats, not a jnp array, so importing this module does not start a JAX backend.
_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE = (0.95047, 1.0, 1.08883)
_EPSILON = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def rgb_to_y(x: jax.Array) -> jax.Array:
    """(B, H, W, 3) RGB -> (B, H, W, 1) luma (BT.601 weights)."""
    return x[..., 0:1] * 0.299 + x[..., 1:2] * 0.587 + x[..., 2:3] * 0.114


def _rgb_to_xyz(x: jax.Array) -> jax.Array:
    """(..., 3) sRGB in [0, 1] -> (..., 3) XYZ, clamped at 0."""
    c = jnp.clip(x, 0.0, 1.0)
    # The power branch is evaluated everywhere; its base is positive, so no NaN gradients.
    linear = jnp.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    # Three weighted sums, not a matmul: accelerators may run float32 matmuls at lower precision.
    r, g, b = linear[..., 0], linear[..., 1], linear[..., 2]
    xyz = [r * m0 + g * m1 + b * m2 for m0, m1, m2 in _RGB_TO_XYZ]
    return jnp.maximum(jnp.stack(xyz, axis=-1), 0.0)


def _cbrt_safe(t: jax.Array) -> jax.Array:
    # Cube root only where it is taken (t > epsilon); the guard keeps gradients finite at 0.
    return jnp.cbrt(jnp.maximum(t, _EPSILON))


def rgb_to_lab(x: jax.Array) -> jax.Array:
    """(B, H, W, 3) RGB -> (B, H, W, 3) CIE Lab (D65): L in [0, 100], a and b signed."""
    xyz = _rgb_to_xyz(x)
    t = xyz / jnp.asarray(_WHITE, dtype=x.dtype)
    f = jnp.where(t > _EPSILON, _cbrt_safe(t), (t * _KAPPA + 16.0) / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return jnp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def rgb_to_luv(x: jax.Array) -> jax.Array:
    """(B, H, W, 3) RGB -> (B, H, W, 3) CIE Luv (D65)."""
    xyz = _rgb_to_xyz(x)
    big_x, big_y, big_z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    yr = big_y / _WHITE[1]
    lum = jnp.where(yr > _EPSILON, 116.0 * _cbrt_safe(yr) - 16.0, _KAPPA * yr)
    d = big_x + 15.0 * big_y + 3.0 * big_z + 1e-12
    u_prime, v_prime = 4.0 * big_x / d, 9.0 * big_y / d
    d_ref = _WHITE[0] + 15.0 * _WHITE[1] + 3.0 * _WHITE[2]
    u_ref, v_ref = 4.0 * _WHITE[0] / d_ref, 9.0 * _WHITE[1] / d_ref
    return jnp.stack([lum, 13.0 * lum * (u_prime - u_ref), 13.0 * lum * (v_prime - v_ref)], axis=-1)


def colour_transform(name: str | None):
    """The transform for a colour-stem name (None: identity)."""
    table = {
        None: None,
        "rgb_to_yuv_to_y": rgb_to_y,
        "rgb_to_lab": rgb_to_lab,
        "rgb_to_luv": rgb_to_luv,
    }
    if name not in table:
        raise ValueError(f"unknown colour stem {name!r}; choose one of {list(table)[1:]}")
    return table[name]
