"""Model package: reference fidelity, parameter counts, loader errors, conv forms, training."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from hsc_jax.models import (
    NAMED_SIZES,
    PARAMETER_COUNTS,
    ModelConfig,
    count_parameters,
    create_model,
    load_torch_state_dict,
    set_depthwise,
    torch_key_map,
)
from hsc_jax.models.layers import Conv2d, conv_grouped, dense_slices, depthwise_slices
from hsc_jax.models.torch_convert import convert_torch_checkpoint

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "reference" / "torch_fixtures"
needs_shared = pytest.mark.skipif(
    not (FIXTURES / "index.json").is_file(),
    reason=f"reference fixtures not found at {FIXTURES} (../shared relative to the repo root)",
)
FIXTURE_INDEX = (
    json.loads((FIXTURES / "index.json").read_text()) if (FIXTURES / "index.json").is_file() else []
)
TOLERANCE = 1e-4  # max |ours - reference| / max |reference|, per tensor

TINY = ModelConfig(base_channels=8, num_blocks=3, dropout=0.3)


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


@nnx.jit
def forward_intermediates(model, images):
    # One compile per model is much cheaper than op-by-op dispatch on CPU.
    return model(images, return_intermediates=True)


def zero_state(model) -> dict[str, np.ndarray]:
    """A PyTorch-shaped state_dict for `model` (every key, torch layout)."""
    return {k: np.zeros(shape, np.float32) for k, (_, _, shape) in torch_key_map(model).items()}


# ---------------------------------------------------------------------------------------------
# Reference fidelity


@pytest.mark.shared
@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("entry", FIXTURE_INDEX, ids=[e["name"] for e in FIXTURE_INDEX])
def test_fixture_matches_reference(entry):
    data = np.load(FIXTURES / entry["file"])
    state = {k: data[k] for k in data.files if k.startswith("state/")}
    config = ModelConfig(**entry["model_config"])
    images = jnp.asarray(data["input"].transpose(0, 2, 3, 1))  # NCHW -> NHWC
    model = create_model(config, image_size=tuple(entry["image_size"]), seed=0)
    assert count_parameters(model) == entry["num_parameters"]
    load_torch_state_dict(model, state)
    model.eval()
    for impl in ("slices", "grouped"):
        set_depthwise(model, impl)
        out = forward_intermediates(model, images)
        assert out["logits"].shape == tuple(entry["logits_shape"])
        for name, ref in (
            ("stem", data["stem_out"]),
            ("features", data["features_out"]),
            ("logits", data["logits"]),
        ):
            ours = np.asarray(out[name])
            if ours.ndim == 4:
                ours = ours.transpose(0, 3, 1, 2)  # NHWC -> NCHW like the reference
            assert ours.shape == ref.shape, (impl, name)
            err = relative_error(ours, ref)
            assert err < TOLERANCE, f"{entry['name']} {impl} {name}: relative error {err:.2e}"


@pytest.mark.shared
@needs_shared
def test_convert_torch_checkpoint(tmp_path):
    entry = next(e for e in FIXTURE_INDEX if e["name"] == "convnext_avg_b8_n2_64x48")
    src = np.load(FIXTURES / entry["file"])
    # A plain state_dict .npz (no prefix) with its config in a JSON file beside it.
    npz = tmp_path / "model_state.npz"
    np.savez(npz, **{k.removeprefix("state/"): src[k] for k in src.files if k.startswith("state/")})
    (tmp_path / "model_config.json").write_text(json.dumps(entry["model_config"]))
    model, config = convert_torch_checkpoint(npz, None, tuple(entry["image_size"]))
    assert config == ModelConfig(**entry["model_config"])
    logits = model(jnp.asarray(src["input"].transpose(0, 2, 3, 1)))
    assert relative_error(np.asarray(logits), src["logits"]) < TOLERANCE
    # The prefixed fixture file itself, with the config as a dict.
    model, _ = convert_torch_checkpoint(
        FIXTURES / entry["file"], entry["model_config"], entry["image_size"]
    )
    logits = model(jnp.asarray(src["input"].transpose(0, 2, 3, 1)))
    assert relative_error(np.asarray(logits), src["logits"]) < TOLERANCE


# ---------------------------------------------------------------------------------------------
# Sizes and configuration


@pytest.mark.parametrize("name", list(NAMED_SIZES))
def test_named_sizes_parameter_counts(name):
    model = nnx.eval_shape(lambda: create_model(NAMED_SIZES[name], image_size=(48, 48)))
    assert count_parameters(model) == PARAMETER_COUNTS[name]


def test_count_excludes_running_stats():
    model = create_model(ModelConfig(base_channels=8, num_blocks=1, arch_variant="baseline"))
    # stem conv 3*8*9 + BN 16; stage dw 8*9 + BN 16 + pw 64 + BN 16; head BN 16 + fc 9
    assert count_parameters(model) == 216 + 16 + 72 + 16 + 64 + 16 + 16 + 9


def test_config_round_trip():
    config = ModelConfig(head_variant="transformer", token_mixer_grid=[3, 3], rgb_to_lab=True)
    assert config.token_mixer_grid == (3, 3)
    data = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(data) == config
    assert ModelConfig().to_dict()["token_mixer_grid"] == [2, 3]
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({"base_chanels": 8})


@pytest.mark.parametrize(
    "kwargs, image_size, message",
    [
        ({"rgb_to_lab": True, "rgb_to_luv": True}, (48, 48), "at most one colour stem"),
        ({"arch_variant": "resnet"}, (48, 48), "unknown arch_variant 'resnet'"),
        ({"head_variant": "gap"}, (48, 48), "unknown head_variant 'gap'"),
        ({"dropout": 1.0}, (48, 48), "dropout"),
        # inverted_se N=4 at 48x48 -> 12x12 features; 5 rows do not divide 12.
        (
            {"head_variant": "transformer", "token_mixer_grid": (5, 3)},
            (48, 48),
            r"grid 5x3 does not divide .* feature map 12x12.*image_size",
        ),
        # convnext N=4 at 40x40 -> 5x5 features; the default 2x3 grid does not fit.
        ({"arch_variant": "convnext"}, (40, 40), r"grid 2x3 does not divide .* 5x5"),
    ],
)
def test_invalid_configs_raise(kwargs, image_size, message):
    with pytest.raises(ValueError, match=message):
        create_model(ModelConfig(**kwargs), image_size=image_size)


def test_unknown_depthwise_raises():
    with pytest.raises(ValueError, match="unknown depthwise implementation"):
        create_model(TINY, depthwise="fast")


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(
            base_channels=8,
            num_blocks=3,
            arch_variant="baseline",
            head_variant="mlp_mixer",
            token_mixer_grid=(4, 3),
        ),
        ModelConfig(base_channels=8, num_blocks=4, expansion=1, se_reduction=0, dropout=0.0),
        ModelConfig(
            base_channels=8,
            num_blocks=2,
            arch_variant="convnext",
            head_variant="avgmax_mlp",
            rgb_to_yuv_to_y=True,
        ),
    ],
    ids=["baseline_mixer", "inverted_e1_nose_p0", "convnext_avgmax_y"],
)
def test_variants_build_and_run_non_square(config):
    model = create_model(config, image_size=(64, 48))
    model.eval()
    x = jax.ShapeDtypeStruct((2, 64, 48, 3), jnp.float32)
    out = nnx.eval_shape(lambda m, x: m(x, return_intermediates=True), model, x)
    assert out["logits"].shape == (2,)
    assert out["features"].shape[-1] == config.feature_channels
    # A state_dict with every expected key loads back (keys follow expansion/SE/dropout).
    load_torch_state_dict(model, zero_state(model))


# ---------------------------------------------------------------------------------------------
# PyTorch state_dict loader errors


@pytest.fixture(scope="module")
def tiny_model():
    return create_model(TINY)


def test_loader_reports_missing_key(tiny_model):
    state = zero_state(tiny_model)
    del state["features.1.block.3.weight"]
    with pytest.raises(ValueError, match=r"missing keys \(1\): \['features.1.block.3.weight'\]"):
        load_torch_state_dict(tiny_model, state)


def test_loader_reports_unexpected_key(tiny_model):
    state = zero_state(tiny_model)
    state["features.9.block.0.weight"] = np.zeros((1,), np.float32)
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): \['features.9.block.0.weight'\]"):
        load_torch_state_dict(tiny_model, state)


def test_loader_reports_wrong_shape(tiny_model):
    state = zero_state(tiny_model)
    state["stem.0.weight"] = np.zeros((8, 3, 5, 5), np.float32)
    with pytest.raises(
        ValueError, match=r"stem.0.weight: expected \(8, 3, 3, 3\), got \(8, 3, 5, 5\)"
    ):
        load_torch_state_dict(tiny_model, state)


def test_loader_ignores_num_batches_tracked_and_prefix(tiny_model):
    state = {f"state/{k}": v for k, v in zero_state(tiny_model).items()}
    state["state/stem.1.num_batches_tracked"] = np.array(7)
    load_torch_state_dict(tiny_model, state)
    assert float(jnp.abs(tiny_model.stem.layers[0].conv.kernel[...]).max()) == 0.0


# ---------------------------------------------------------------------------------------------
# Shifted slices == grouped convolution


@pytest.mark.parametrize(
    "cin, cout, kernel, stride, padding, depthwise, size",
    [
        (16, 16, 3, 2, 1, True, (12, 12)),
        (16, 16, 3, 2, 1, True, (13, 11)),  # odd sizes: PyTorch's floor at stride 2
        (8, 8, 7, 1, 3, True, (12, 10)),
        (3, 8, 3, 1, 1, False, (12, 12)),
        (3, 8, 4, 4, 0, False, (14, 13)),  # patchify stem, remainder dropped
        (8, 16, 2, 2, 0, False, (7, 6)),
        (8, 32, 1, 1, 0, False, (6, 5)),  # 1x1 widening: the kernel gradient swaps operands
        (32, 8, 1, 1, 0, False, (6, 5)),
    ],
)
def test_slices_match_grouped(cin, cout, kernel, stride, padding, depthwise, size):
    conv = Conv2d(
        cin, cout, kernel, stride=stride, padding=padding, depthwise=depthwise,
        use_bias=True, impl="slices", rngs=nnx.Rngs(3),
    )  # fmt: skip
    x = jax.random.normal(jax.random.key(1), (2, *size, cin))

    def apply(kernel, x, impl):
        # The two forms Conv2d dispatches to, with its geometry (the fixtures test dispatch).
        if impl == "grouped":
            return conv_grouped(x, kernel, conv.stride, conv.padding, conv.groups)
        form = depthwise_slices if depthwise else dense_slices
        return form(x, kernel, conv.stride, conv.padding)

    @jax.jit
    def outputs_and_grads(kernel, x):
        # Both forms in one compile: output, kernel and input gradients of a nonlinear loss.
        results = []
        for impl in ("slices", "grouped"):

            def loss(kernel, x, impl=impl):
                y = apply(kernel, x, impl)
                return jnp.sum(jnp.sin(y)), y

            (_, y), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(kernel, x)
            results.append((y, *grads))
        return results

    slices, grouped = outputs_and_grads(conv.kernel[...], x)
    assert slices[0].shape == grouped[0].shape == (2, *conv.output_size(size), cout)
    np.testing.assert_allclose(slices[0], grouped[0], rtol=1e-5, atol=1e-5)
    for got, want in zip(slices[1:], grouped[1:], strict=True):  # kernel, then input
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_set_depthwise_switches_whole_model():
    config = ModelConfig(base_channels=8, num_blocks=3, arch_variant="convnext", head_variant="avg")
    model = create_model(config, depthwise="slices")

    def impls():
        return {m.impl for _, m in nnx.iter_modules(model) if isinstance(m, Conv2d)}

    assert impls() == {"slices"}
    set_depthwise(model, "grouped")
    assert impls() == {"grouped"}
    set_depthwise(model, "auto")
    assert impls() == {"slices" if jax.default_backend() == "cpu" else "grouped"}


# ---------------------------------------------------------------------------------------------
# Training


@pytest.mark.slow
def test_train_step_under_jit():
    # Transformer head: dropout in attention, feed-forward and head; BN in the backbone.
    config = ModelConfig(
        base_channels=4, num_blocks=2, head_variant="transformer", token_mixer_layers=1
    )
    model = create_model(config, seed=0)
    model.train()
    optimizer = nnx.Optimizer(model, optax.adamw(1e-3, weight_decay=1e-4), wrt=nnx.Param)
    x = jax.random.uniform(jax.random.key(0), (4, 48, 48, 3))
    y = jnp.array([0.0, 1.0, 1.0, 0.0])

    @nnx.jit
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.sigmoid_binary_cross_entropy(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    bn = model.stem.layers[0].bn
    mean_before = np.asarray(bn.mean[...])
    kernel_before = np.asarray(model.stem.layers[0].conv.kernel[...])
    losses = [float(train_step(model, optimizer, x, y)) for _ in range(3)]
    assert all(np.isfinite(losses))
    assert not np.allclose(bn.mean[...], mean_before)  # running stats move in train mode
    assert not np.allclose(model.stem.layers[0].conv.kernel[...], kernel_before)
    # Dropout draws fresh masks each call in train mode; eval mode is deterministic.
    assert not np.allclose(model(x), model(x))
    model.eval()
    np.testing.assert_array_equal(model(x), model(x))
