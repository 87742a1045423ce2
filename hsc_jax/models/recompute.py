"""Run a module so that its backward pass recomputes its activations instead of keeping them.

The train step of S at batch 256 kept every stage's activations from the forward pass to the
backward pass: 2.4 GB of scratch memory, faulted in again on every step. Wrapped here, a module
keeps only its input and parameters; its backward pass runs the module's forward again and
differentiates that, one module at a time, so at most one module's activations are alive.

XLA's CPU compiler drops optimisation barriers before it orders the program, so nothing would
stop it from running every recomputation right after the forward pass (holding them all at once,
as `jax.checkpoint` ends up doing here) or from leaving the parameter gradients for the optimiser
update at the end. Two data dependencies pin the order: the recomputation reads its input plus
zero times the incoming cotangent, so it cannot start before that cotangent exists, and the
input's gradient leaves plus zero times the parameter gradients, so they are done first. Zero
times a float is not folded away (it is NaN for NaN), and adding zero leaves every finite value
as it was (a non-finite gradient spoils the step either way).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def recompute_in_backward(module: nnx.Module, x: jax.Array) -> jax.Array:
    """`module(x)` with the same values and gradients; its activations are recomputed in the
    backward pass. `module` maps a batch to a batch: (B, ...) -> (B, ...). Non-parameter state
    (batch statistics, RNG counters) is updated as by a plain call and gets no gradient; the
    recomputation starts from the state the call saw, so it draws the same numbers."""
    return _pinned_call(module, x, recompute=True)


def keep_in_backward(module: nnx.Module, x: jax.Array) -> jax.Array:
    """`module(x)` with its activations kept for the backward pass, as a plain call keeps them,
    and its input gradient pinned after its parameter gradients as `recompute_in_backward`
    pins it. For the module whose backward pass runs first: recomputing it would save nothing,
    but left unpinned, XLA starts the next module's recomputation while this one's activations
    wait for its parameter gradients."""
    return _pinned_call(module, x, recompute=False)


def _pinned_call(module: nnx.Module, x: jax.Array, *, recompute: bool) -> jax.Array:
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)

    def run(params: Any, rest: Any, x: jax.Array) -> tuple[jax.Array, Any]:
        # Fresh Variables: the backward pass traces this again at another level.
        params, rest = jax.tree.map(lambda leaf: leaf, (params, rest))
        copy = nnx.merge(graphdef, params, rest)
        y = copy(x)
        return y, nnx.state(copy, nnx.Not(nnx.Param))

    @jax.custom_vjp
    def call(params, rest, x):
        return run(params, rest, x)

    def call_forward(params, rest, x):
        if recompute:
            return run(params, rest, x), (rest, (params, x))
        # The pullback is a pytree whose leaves are the activations it needs.
        y, pullback, new_rest = jax.vjp(lambda p, x: run(p, rest, x), params, x, has_aux=True)
        return (y, new_rest), (rest, pullback)

    def call_backward(saved, cotangents):
        rest, kept = saved
        dy, _ = cotangents  # the updated state carries no gradient
        if recompute:
            params, x = kept
            x = x + (0.0 * _per_sample_scalar(dy, x.ndim)).astype(x.dtype)
            _, pullback = jax.vjp(lambda p, x: run(p, rest, x)[0], params, x)
        else:
            pullback = kept
        dparams, dx = pullback(dy)
        firsts = (leaf.reshape(-1)[:1].sum() for leaf in jax.tree.leaves(dparams))
        done = sum(firsts, jnp.zeros((), dx.dtype))  # zero for a module without parameters
        dx = dx + (0.0 * done).astype(dx.dtype)
        return dparams, jax.tree.map(_zero_cotangent, rest), dx

    call.defvjp(call_forward, call_backward)
    y, new_rest = call(params, rest, x)
    nnx.update(module, new_rest)
    return y


def _per_sample_scalar(dy: jax.Array, ndim: int) -> jax.Array:
    """One value of `dy` per sample, shaped to broadcast against an input of `ndim` axes: it
    stays on the sample's own device when the batch is sharded."""
    first = dy.reshape(dy.shape[0], -1)[:, :1]  # (B, 1)
    return first.reshape(dy.shape[0], *([1] * (ndim - 1)))


def _zero_cotangent(leaf: jax.Array) -> jax.Array:
    if jnp.issubdtype(leaf.dtype, jnp.inexact):
        return jnp.zeros_like(leaf)
    return np.zeros(leaf.shape, jax.dtypes.float0)  # integer counters and RNG keys
