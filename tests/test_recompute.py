"""Activations recomputed in the backward pass: the same values, gradients and statistics from
less memory (hsc_jax/models/recompute.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fakes import TinyModel
from flax import nnx
from helpers import json_answer, start_python

from hsc_infer.contract import ModelContract
from hsc_jax.models import ModelConfig, create_model
from hsc_jax.models.config import RECOMPUTE
from hsc_jax.models.recompute import recompute_in_backward
from hsc_jax.train import mesh, step
from hsc_jax.xla_schedule import ORDER_FLAGS


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
    gradients are the plain bfloat16 step's, up to bfloat16 rounding."""
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
        # bfloat16 rounding: up to 1.2e-3 of a leaf's norm here
        assert np.linalg.norm(got - want) <= 5e-3 * np.linalg.norm(want) + 1e-6


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


def gradient_flops(num_blocks: int, recompute: str) -> float:
    """XLA's count of floating-point operations in a small inverted-SE model's compiled
    gradient."""
    config = ModelConfig(base_channels=8, num_blocks=num_blocks, arch_variant="inverted_se")
    model = create_model(config, image_size=(48, 48), seed=0)
    model.train()
    graphdef, state = nnx.split(model)
    images, labels = jnp.zeros((4, 48, 48, 3)), jnp.zeros((4,), jnp.int32)

    def loss(state):
        model = nnx.merge(graphdef, state)
        return step.loss_fn(model, images, labels, 1.0, jnp.float32, recompute)[0]

    compiled = jax.jit(jax.grad(loss, allow_int=True)).lower(state).compile()
    return compiled.cost_analysis()["flops"]


def test_the_last_stage_is_never_recomputed():
    """Its activations are needed as soon as the backward pass starts, so recomputing them
    saves no memory: a one-stage model (P) computes with "stages" exactly what it computes with
    "none", while a deeper model recomputes its other stages."""
    assert gradient_flops(1, "stages") == gradient_flops(1, "none")
    three_stages = gradient_flops(3, "stages") / gradient_flops(3, "none")
    assert three_stages > 1.05, three_stages


def step_temporaries() -> dict[str, int]:
    """Bytes of scratch memory of a small inverted-SE step's gradient for each setting (XLA's
    own accounting of the compiled program; nothing runs)."""
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
    return temporaries


def test_recompute_cuts_the_train_steps_scratch_memory():
    """Under both of XLA's CPU orders (`hsc-jax train` asks for the memory order), the stages'
    activations are not alive together. Each data dependency of recompute.py is what holds
    under one of them: without the first, XLA's default order runs every recomputation right
    after the forward pass (0.98x of `none` here); without the second, the memory order leaves
    the parameter gradients to the end (0.96x)."""
    in_memory_order = start_python(
        """
        import json
        from test_recompute import step_temporaries
        print(json.dumps(step_temporaries()))
        """,
        XLA_FLAGS=ORDER_FLAGS["memory"],
    )
    for temporaries in (step_temporaries(), json_answer(in_memory_order)):
        assert temporaries["stages"] < 0.7 * temporaries["none"], temporaries
        assert temporaries["all"] < 0.8 * temporaries["stages"], temporaries


def three_steps_losses(recompute: str, devices: int) -> list[float]:
    """Losses of three train steps of a small inverted-SE model on fixed data, the batch
    spread over the data axis of every CPU device."""
    parallel = mesh.data_parallel("cpu")
    assert parallel.device_count == devices
    model = create_model(ModelConfig(base_channels=8, num_blocks=3), image_size=(48, 48), seed=0)
    model.train()
    graphdef, state = nnx.split((model, step.make_optimizer(model, 1e-2, 1e-4)))
    state = parallel.put_replicated(state)
    scaling = step.InputScaling.from_contract(ModelContract())
    train_step = step.make_train_step(graphdef, scaling, parallel, recompute=recompute)
    rng = np.random.default_rng(0)
    losses = []
    for i in range(3):
        images = rng.integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)
        labels = (np.arange(8) % 3 == 0).astype(np.int32)
        batch = parallel.put_batch(images), parallel.put_batch(labels)
        state, m = train_step(state, *batch, jax.random.key(i), 1e-2, 2.0)
        losses.append(float(m["loss"]))
    return losses


def test_recomputed_stages_on_two_devices_train_as_one_device_without():
    """The batch sharded over 2 devices (a child process: the device count is fixed at start):
    the per-sample dependency stays on each sample's device and the losses are those of a
    plain step on one device."""
    if jax.device_count("cpu") != 1:
        pytest.skip("this process already has several CPU devices")
    two_devices = start_python(
        """
        import json
        from test_recompute import three_steps_losses
        print(json.dumps({"losses": three_steps_losses("stages", devices=2)}))
        """,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    plain = three_steps_losses("none", devices=1)
    np.testing.assert_allclose(json_answer(two_devices)["losses"], plain, rtol=1e-5)
    assert plain[0] != plain[2]


def test_a_module_without_parameters():
    """Nothing to differentiate but the input: the gradient is the plain call's."""

    class Square(nnx.Module):
        def __call__(self, x: jax.Array) -> jax.Array:
            return x * x

    x = jnp.arange(6.0).reshape(2, 3)
    grad = jax.grad(lambda x: recompute_in_backward(Square(), x).sum())(x)
    np.testing.assert_allclose(grad, 2 * x)


def test_an_unknown_recompute_setting_is_refused():
    model = create_model(ModelConfig(base_channels=8, num_blocks=1), image_size=(48, 48), seed=0)
    with pytest.raises(ValueError, match="recompute must be one of .*'stage'"):
        model(jnp.zeros((1, 48, 48, 3)), recompute="stage")
