"""Activations recomputed in the backward pass: the same values, gradients and statistics from
less memory (hsc_jax/models/recompute.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fakes import TinyModel
from flax import nnx

from hsc_jax.models import ModelConfig, create_model
from hsc_jax.models.config import RECOMPUTE
from hsc_jax.models.recompute import recompute_in_backward
from hsc_jax.train import step


def _loss_grads_and_state(model: nnx.Module, images: jax.Array, recompute: str):
    """Loss, parameter gradients and the state after one call, all under jit, as the train
    step differentiates."""
    labels = jnp.array([0, 1] * (images.shape[0] // 2))

    @nnx.jit
    def run(model):
        grad_fn = nnx.value_and_grad(step.loss_fn, has_aux=True)
        (loss, _), grads = grad_fn(model, images, labels, 1.5, jnp.float32, recompute)
        return loss, grads

    loss, grads = run(model)
    return loss, grads, nnx.state(model, nnx.BatchStat)


@pytest.mark.parametrize("arch", ["baseline", "inverted_se", "convnext"])
def test_recompute_gives_the_same_loss_gradients_and_statistics(arch: str):
    config = ModelConfig(base_channels=8, num_blocks=3, arch_variant=arch)
    images = jax.random.uniform(jax.random.key(1), (4, 48, 48, 3))
    results = {}
    for recompute in RECOMPUTE:
        model = create_model(config, image_size=(48, 48), seed=0)
        model.train()
        results[recompute] = _loss_grads_and_state(model, images, recompute)
    plain_loss, plain_grads, plain_state = results["none"]
    assert any(not np.allclose(leaf, 0) for leaf in jax.tree.leaves(plain_grads))
    for recompute in ("stages", "all"):
        loss, grads, state = results[recompute]
        np.testing.assert_allclose(loss, plain_loss, rtol=1e-5)
        for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(plain_grads), strict=True):
            # XLA fuses the recomputation its own way, so float32 rounding differs a little;
            # gradients that cancel to near zero (a BN shift before SiLU and another BN) show it
            # most: up to 8e-5 of the leaf's norm here, where a wrong activation or statistic
            # gives 1e-2 or more.
            assert np.linalg.norm(got - want) <= 5e-4 * np.linalg.norm(want)
        # The batch statistics are updated once, by the forward pass, as without recomputation.
        for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(plain_state), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_recompute_under_bfloat16_compute():
    """--use_amp's path: parameters cast to bfloat16 for the call; the recomputed stages'
    gradients come back in the parameters' dtype, close to the plain bfloat16 step's."""
    config = ModelConfig(base_channels=8, num_blocks=2)
    images = jax.random.uniform(jax.random.key(3), (4, 48, 48, 3))
    labels = jnp.array([0, 1, 0, 1])
    grads = {}
    for recompute in ("none", "stages"):
        model = create_model(config, image_size=(48, 48), seed=0)
        model.train()
        grad_fn = nnx.jit(nnx.grad(step.loss_fn, has_aux=True), static_argnums=(4, 5))
        grads[recompute] = grad_fn(model, images, labels, 1.0, jnp.bfloat16, recompute)[0]
    pairs = zip(jax.tree.leaves(grads["stages"]), jax.tree.leaves(grads["none"]), strict=True)
    for got, want in pairs:
        assert got.dtype == want.dtype == jnp.float32
        assert np.linalg.norm(got - want) <= 0.05 * np.linalg.norm(want) + 1e-6


def test_recomputation_draws_the_same_dropout_mask():
    """A module with dropout inside: the backward pass recomputes from the RNG state the
    forward call saw, so its gradients are those of the mask the forward pass drew."""
    images = jax.random.uniform(jax.random.key(2), (6, 8, 8, 3))

    def loss(model, recompute):
        logits = recompute_in_backward(model, images) if recompute else model(images)
        return jnp.sum(logits**2)

    results = []
    for recompute in (False, True):
        model = TinyModel(channels=4, dropout=0.5, rngs=nnx.Rngs(0))
        model.train()
        value, grads = nnx.jit(nnx.value_and_grad(loss), static_argnums=1)(model, recompute)
        results.append((value, grads, nnx.state(model, nnx.RngState)))
    (plain_value, plain_grads, plain_rngs), (value, grads, rngs) = results
    np.testing.assert_allclose(value, plain_value, rtol=1e-6)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(plain_grads), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # The dropout stream moved on once, as after a plain call.
    counts = [np.asarray(c) for c in jax.tree.leaves(rngs) if c.dtype == jnp.uint32]
    plain_counts = [np.asarray(c) for c in jax.tree.leaves(plain_rngs) if c.dtype == jnp.uint32]
    assert counts == plain_counts and any(c > 0 for c in counts)


def test_recompute_cuts_the_train_steps_scratch_memory():
    """XLA's own accounting of the compiled step: with the order pinned, the activations of the
    stages are not alive together. Were every recomputation run right after the forward pass
    (as XLA orders `jax.checkpoint` here), S would keep 0.95x of its memory."""
    config = ModelConfig(base_channels=16, num_blocks=3, arch_variant="inverted_se")
    images = jnp.zeros((64, 48, 48, 3))
    labels = jnp.zeros((64,), jnp.int32)
    temporaries = {}
    for recompute in RECOMPUTE:
        model = create_model(config, image_size=(48, 48), seed=0)
        model.train()
        graphdef, state = nnx.split(model)

        def loss(state, graphdef=graphdef, recompute=recompute):
            model = nnx.merge(graphdef, state)
            return step.loss_fn(model, images, labels, 1.0, jnp.float32, recompute)[0]

        compiled = jax.jit(jax.grad(loss, allow_int=True)).lower(state).compile()
        temporaries[recompute] = compiled.memory_analysis().temp_size_in_bytes
    assert temporaries["stages"] < 0.7 * temporaries["none"], temporaries
    assert temporaries["all"] < 0.8 * temporaries["stages"], temporaries


def test_an_unknown_recompute_setting_is_refused():
    model = create_model(ModelConfig(base_channels=8, num_blocks=1), image_size=(48, 48), seed=0)
    with pytest.raises(ValueError, match="recompute must be one of .*'stage'"):
        model(jnp.zeros((1, 48, 48, 3)), recompute="stage")
