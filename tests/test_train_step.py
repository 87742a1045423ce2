"""The loss, the plateau schedule, the jitted step (bf16 path) and data parallelism."""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fakes import TinyModel, tiny_train_batch, tiny_train_state
from flax import nnx
from helpers import json_answer, start_python

from hsc_infer.contract import ModelContract
from hsc_jax.train import mesh, step
from hsc_jax.train.pipeline import plan_epoch, positive_weight
from hsc_jax.train.schedule import ReduceOnPlateau


def test_weighted_bce_matches_hand_computation():
    logits = jnp.array([2.0, -1.0, 0.5, -3.0])
    labels = jnp.array([1, 0, 1, 0])
    pos_weight = 2.5
    sig = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    expected = [
        -pos_weight * np.log(sig[0]),
        -np.log(1 - sig[1]),
        -pos_weight * np.log(sig[2]),
        -np.log(1 - sig[3]),
    ]
    got = step.weighted_bce(logits, labels, jnp.float32(pos_weight))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # pos_weight 1 is optax's plain sigmoid BCE.
    plain = optax.sigmoid_binary_cross_entropy(logits, labels.astype(jnp.float32))
    np.testing.assert_allclose(step.weighted_bce(logits, labels, 1.0), plain, rtol=1e-6)


def test_pos_weight_counts_resampled_samples(caplog: pytest.LogCaptureFixture):
    labels = np.array([0] * 30 + [1] * 10)
    assert positive_weight(labels) == 3.0
    balanced = plan_epoch(labels, "balanced", seed=0, epoch=1, batch_size=8)
    assert balanced.pos_weight == 1.0  # both classes tiled to 30
    with caplog.at_level("WARNING"):
        assert positive_weight(np.zeros(5, int)) == 1.0
    assert "pos_weight set to 1.0" in caplog.text


def test_plan_epoch_depends_on_seed_and_epoch_only():
    labels = np.array([0, 1] * 50)
    a = plan_epoch(labels, "none", seed=1, epoch=2, batch_size=16)
    b = plan_epoch(labels, "none", seed=1, epoch=2, batch_size=16)
    c = plan_epoch(labels, "none", seed=1, epoch=3, batch_size=16)
    np.testing.assert_array_equal(a.batches, b.batches)
    assert a.batches.shape == (6, 16)
    assert not np.array_equal(a.batches, c.batches)


def test_reduce_on_plateau_follows_pytorch_rules():
    schedule = ReduceOnPlateau(lr=1e-3)
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.89995, 0.5]
    lrs = []
    for loss in losses:
        schedule.step(loss)
        lrs.append(schedule.lr)
    # Three epochs without a 1e-4 relative improvement after 0.9 -> halve on the third.
    assert lrs == [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4]
    restored = ReduceOnPlateau.from_state_dict(schedule.state_dict())
    assert restored == schedule


def test_step_updates_lr_from_argument_and_keeps_float32_master_weights_under_bf16():
    parallel = mesh.data_parallel("cpu")
    graphdef, state = tiny_train_state(parallel)
    scaling = step.InputScaling.from_contract(ModelContract())
    train_step = step.make_train_step(graphdef, scaling, parallel, compute_dtype=jnp.bfloat16)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 12, 12, 3), dtype=np.uint8)
    labels = np.array([0, 1] * 4, np.int32)
    state, measured = train_step(
        state, parallel.put_batch(images), parallel.put_batch(labels), jax.random.key(0), 0.25, 1.0
    )
    assert set(measured) >= {"loss", "grad_norm", "param_norm", "logits"}
    assert measured["logits"].shape == (8,) and measured["logits"].dtype == jnp.float32
    assert np.isfinite(float(measured["loss"]))
    model, optimizer = nnx.merge(graphdef, state)
    assert float(optimizer.opt_state.hyperparams["learning_rate"][...]) == 0.25
    params = jax.tree.leaves(nnx.state(model, nnx.Param))
    assert all(p.dtype == jnp.float32 for p in params)
    # The forward pass ran in bfloat16: the same step in float32, from the same state and key,
    # gives logits that differ by bfloat16's rounding (8 bits of mantissa), no more.
    logits = np.asarray(measured["logits"])
    graphdef, state = tiny_train_state(parallel)
    float32_step = step.make_train_step(graphdef, scaling, parallel)
    _, full = float32_step(
        state, parallel.put_batch(images), parallel.put_batch(labels), jax.random.key(0), 0.25, 1.0
    )
    full_logits = np.asarray(full["logits"])
    assert np.abs(logits - full_logits).max() > 1e-4
    np.testing.assert_allclose(logits, full_logits, rtol=0.05, atol=0.05)


def test_eval_step_scales_like_the_contract():
    parallel = mesh.data_parallel("cpu")
    model = TinyModel(rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model)
    contract = ModelContract()
    eval_step = step.make_eval_step(graphdef, step.InputScaling.from_contract(contract), parallel)
    images = np.random.default_rng(0).integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    rows = parallel.local_slice(4)
    logits = step.logits_in_batches(
        lambda batch: eval_step(state, parallel.put_batch(batch[rows])), images, 4
    )
    from hsc_infer.contract import scale_batch

    expected = model(jnp.asarray(scale_batch(images, contract)))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)


def _losses_and_batch_error(device_count_expected: int) -> dict:
    """Three training steps of the fake model on fixed data; run in-process or in a child."""
    parallel = mesh.data_parallel("cpu")
    model = TinyModel(rngs=nnx.Rngs(0))
    model.train()
    graphdef, state = nnx.split((model, step.make_optimizer(model, 1e-2, 1e-4)))
    state = parallel.put_replicated(state)
    train_step = step.make_train_step(
        graphdef, step.InputScaling.from_contract(ModelContract()), parallel
    )
    rng = np.random.default_rng(0)
    losses = []
    for i in range(3):
        images = rng.integers(0, 256, (16, 12, 12, 3), dtype=np.uint8)
        labels = (np.arange(16) % 3 == 0).astype(np.int32)
        state, m = train_step(
            state,
            parallel.put_batch(images),
            parallel.put_batch(labels),
            jax.random.key(i),
            1e-2,
            2.0,
        )
        losses.append(float(m["loss"]))
    error = None
    try:
        parallel.check_batch_size(15)
    except mesh.DeviceError as e:
        error = str(e)
    assert parallel.device_count == device_count_expected
    return {"devices": parallel.device_count, "losses": losses, "error": error}


_CHILD = textwrap.dedent(
    """
    import json
    from test_train_step import _losses_and_batch_error
    print(json.dumps(_losses_and_batch_error(2)))
    """
)


def test_two_devices_give_the_same_loss_as_one():
    """The same steps on a 2-device mesh (a child process: the device count is fixed at start)
    and on this process's single device."""
    if jax.device_count("cpu") != 1:
        pytest.skip("this process already has several CPU devices")
    child = start_python(_CHILD, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    one = _losses_and_batch_error(1)  # meanwhile, in this process
    two = json_answer(child)
    assert two["devices"] == 2
    np.testing.assert_allclose(two["losses"], one["losses"], atol=1e-5)
    assert one["error"] is None
    assert "must divide by the number of devices" in two["error"]


def test_mixup_blends_each_image_and_its_target_alike():
    """Images filled with one value each, targets equal to those values: after mixing, every
    image is still one value, and it is its mixed target, inside the range of the batch."""
    values = jnp.linspace(0.0, 1.0, 32)
    images = jnp.broadcast_to(values[:, None, None, None], (32, 4, 4, 3))
    mixed, targets = step.mix_batch(images, values, jax.random.key(3), alpha=0.4)
    mixed = np.asarray(mixed)
    np.testing.assert_allclose(mixed, mixed[:, :1, :1, :1] * np.ones_like(mixed), atol=1e-6)
    np.testing.assert_allclose(mixed[:, 0, 0, 0], np.asarray(targets), atol=1e-6)
    assert np.all((np.asarray(targets) >= 0) & (np.asarray(targets) <= 1))
    assert not np.allclose(np.asarray(targets), np.asarray(values))  # something was mixed


def test_the_step_with_mixup_trains_on_mixed_targets():
    parallel = mesh.data_parallel("cpu")
    scaling = step.InputScaling.from_contract(ModelContract())
    images, labels = tiny_train_batch(parallel)
    losses = []
    for mixup in (0.0, 0.4):
        graphdef, state = tiny_train_state(parallel)
        train_step = step.make_train_step(graphdef, scaling, parallel, mixup=mixup)
        _, measured = train_step(state, images, labels, jax.random.key(0), 0.1, 1.0)
        losses.append(float(measured["loss"]))
    assert np.isfinite(losses).all() and losses[0] != losses[1]
