"""The moving average of the weights (--ema_decay): its arithmetic, the step, and a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fakes import tiny_config, tiny_model_factory, tiny_train_batch, tiny_train_state
from flax import nnx

from hsc_infer.contract import ModelContract
from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.errors import CheckpointError, ConfigError
from hsc_jax.train import average, mesh, step
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train.trainer import train


def test_the_decay_starts_short_and_settles_at_the_setting():
    assert float(average.decay_at(0.999, 0)) == pytest.approx(0.1)
    assert float(average.decay_at(0.999, 90)) == pytest.approx(91 / 100)
    assert float(average.decay_at(0.999, 10**6)) == pytest.approx(0.999)
    assert float(average.decay_at(0.5, 20)) == pytest.approx(0.5)


def test_blend_averages_floats_and_takes_other_leaves_from_the_model():
    averaged = {"w": jnp.array([0.0, 10.0]), "count": jnp.array(3, jnp.uint32)}
    model = {"w": jnp.array([1.0, 0.0]), "count": jnp.array(7, jnp.uint32)}
    out = average.blend(averaged, model, jnp.float32(0.75))
    np.testing.assert_allclose(out["w"], [0.25, 7.5])
    assert int(out["count"]) == 7 and out["count"].dtype == jnp.uint32


def _floats(state) -> dict[str, np.ndarray]:
    """The floating-point leaves of a model state by path (RNG keys left out)."""
    leaves = jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(state))[0]
    return {
        jax.tree_util.keystr(path): np.asarray(leaf)
        for path, leaf in leaves
        if jnp.issubdtype(leaf.dtype, jnp.floating)
    }


def test_the_average_follows_the_step_and_leaves_training_as_it_was():
    parallel = mesh.data_parallel("cpu")
    scaling = step.InputScaling.from_contract(ModelContract())
    images, labels = tiny_train_batch(parallel)
    plain_graphdef, plain = tiny_train_state(parallel)
    graphdef, state = tiny_train_state(parallel, with_average=True)
    start = _floats(state[2])
    plain_step = step.make_train_step(plain_graphdef, scaling, parallel)
    averaged_step = step.make_train_step(graphdef, scaling, parallel, ema_decay=0.9)
    for updates in (1, 2):
        plain, plain_measured = plain_step(plain, images, labels, jax.random.key(updates), 0.1, 1.0)
        state, measured = averaged_step(state, images, labels, jax.random.key(updates), 0.1, 1.0)
        # Training itself does not see the average.
        assert float(measured["loss"]) == float(plain_measured["loss"])
        new = _floats(state[0])
        assert new.keys() == _floats(plain[0]).keys()
        for name, value in _floats(plain[0]).items():
            np.testing.assert_array_equal(new[name], value)
        # After each update: average = d * previous + (1 - d) * the new weights.
        d = float(average.decay_at(0.9, updates))
        got = _floats(state[2])
        for name, value in got.items():
            np.testing.assert_allclose(value, d * start[name] + (1 - d) * new[name], rtol=1e-6)
        start = got
    kernel = next(name for name in got if "conv" in name and "kernel" in name)
    assert not np.allclose(got[kernel], new[kernel])


def test_a_decay_of_one_is_refused(tmp_path: Path):
    config = tiny_config(tmp_path / "d.parquet", tmp_path / "run", ema_decay=1.0)
    write_synthetic_parquet(tmp_path / "d.parquet", 40, seed=0)
    with pytest.raises(ConfigError, match="ema_decay"):
        config.validate()


@pytest.mark.slow
def test_a_run_validates_both_weights_and_exports_the_better(tmp_path: Path):
    parquet = tmp_path / "synthetic.parquet"
    write_synthetic_parquet(parquet, 200, seed=0)

    def run(output_dir: Path, **overrides) -> list[dict]:
        config = tiny_config(parquet, output_dir, ema_decay=0.9, lr=0.05, **overrides)
        train(config, model_factory=tiny_model_factory)
        return json.loads((output_dir / "history.json").read_text())

    history = run(tmp_path / "straight", epochs=3)
    for entry in history:
        assert entry["weights"] in ("model", "average")
        kept = entry["val_average"] if entry["weights"] == "average" else entry["val_trained"]
        assert entry["val"] == kept
        other = entry["val_trained"] if entry["weights"] == "average" else entry["val_average"]
        assert kept["f1"] >= other["f1"]
    assert history[0]["val_average"] != history[0]["val_trained"]
    assert 0.0 < history[0]["average_decay"] < history[2]["average_decay"] <= 0.9
    # The plateau schedule follows the trained weights' validation loss, whatever is exported.
    meta = ckpt.read_meta(tmp_path / "straight" / "hsc_epoch_0003")
    trained_losses = [entry["val_trained"]["loss"] for entry in history]
    assert meta["schedule"]["best"] == pytest.approx(min(trained_losses))

    # Each checkpoint holds both, and loading it gives the weights its meta names.
    last = tmp_path / "straight" / "hsc_epoch_0003"
    meta = ckpt.read_meta(last)
    assert (last / ckpt.AVERAGE_DIR).is_dir() and (last / ckpt.MODEL_DIR).is_dir()
    loaded = ckpt.load_checkpoint(last, model_factory=tiny_model_factory)
    device = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
    chosen = ckpt.restore_into(last / meta["weights"], nnx.state(loaded.model), device)
    loaded_floats = _floats(nnx.state(loaded.model))
    for name, value in _floats(chosen).items():
        np.testing.assert_array_equal(loaded_floats[name], value)

    # Each folder loads as the meta names it, whichever the run chose.
    for name in (ckpt.MODEL_DIR, ckpt.AVERAGE_DIR):
        copy = tmp_path / f"as_{name}"
        shutil.copytree(last, copy)
        (copy / ckpt.META_FILE).write_text(json.dumps({**meta, "weights": name}))
        floats = _floats(
            nnx.state(ckpt.load_checkpoint(copy, model_factory=tiny_model_factory).model)
        )
        for key, value in _floats(
            ckpt.restore_into(copy / name, nnx.state(loaded.model), device)
        ).items():
            np.testing.assert_array_equal(floats[key], value)
    model_floats = _floats(
        ckpt.restore_into(last / ckpt.MODEL_DIR, nnx.state(loaded.model), device)
    )
    average_floats = _floats(
        ckpt.restore_into(last / ckpt.AVERAGE_DIR, nnx.state(loaded.model), device)
    )
    assert any(not np.allclose(model_floats[k], average_floats[k]) for k in model_floats)

    # A resumed run carries the average on exactly as an uninterrupted one.
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "straight", resumed)
    for name in ("hsc_epoch_0003", *[p.name for p in resumed.glob("hsc_best_epoch0003*")]):
        shutil.rmtree(resumed / name)
    again = run(resumed, epochs=3, resume=str(resumed / "hsc_epoch_0002"))
    for key in ("val_trained", "val_average"):
        for metric, value in history[2][key].items():
            assert again[2][key][metric] == pytest.approx(value, rel=1e-6, abs=1e-7)


@pytest.mark.slow
def test_without_a_validation_split_the_average_is_exported(tmp_path: Path):
    parquet = tmp_path / "synthetic.parquet"
    write_synthetic_parquet(parquet, 120, seed=0)
    split = {"train_ratio": 0.8, "val_ratio": 0.0, "test_ratio": 0.2}
    config = tiny_config(parquet, tmp_path / "run", ema_decay=0.9, lr=0.05, epochs=1, **split)
    summary = train(config, model_factory=tiny_model_factory)
    entry = json.loads((tmp_path / "run" / "history.json").read_text())[0]
    assert entry["weights"] == "average" and entry["val_average"] is None
    assert summary["best_weights"] == "average"
    assert ckpt.read_meta(tmp_path / "run" / "hsc_epoch_0001")["weights"] == "average"


def test_a_checkpoint_naming_weights_it_lacks_is_refused(tmp_path: Path):
    (tmp_path / ckpt.MODEL_DIR).mkdir()
    with pytest.raises(CheckpointError, match="has no average/ folder"):
        ckpt.weights_dir(tmp_path, {"weights": "average"})
    with pytest.raises(CheckpointError, match="names weights 'best'"):
        ckpt.weights_dir(tmp_path, {"weights": "best"})
    assert ckpt.weights_dir(tmp_path, {}) == tmp_path / ckpt.MODEL_DIR
