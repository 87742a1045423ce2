"""Checkpoint files: atomic writes, the COMPLETE marker, retention and a SIGKILL mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from fakes import TinyModel, tiny_model_factory
from flax import nnx
from helpers import child_environment

from hsc_infer.contract import ModelContract
from hsc_jax.models import ModelConfig, create_model
from hsc_jax.train import checkpoint as ckpt


def _meta(epoch: int) -> dict:
    config = ModelConfig(base_channels=8, num_blocks=1)
    return {
        "kind": "epoch",
        "epoch": epoch,
        "model_config": config.to_dict(),
        "image_size": [48, 48],
        "contract": ModelContract(threshold=0.37).__dict__ | {"input_size": [48, 48]},
        "train_config": {"epochs": 3},
    }


def _write(path: Path, epoch: int, seed: int = 0) -> nnx.Module:
    model = TinyModel(rngs=nnx.Rngs(seed))
    meta = _meta(epoch)
    meta["contract"] = {"input_size": [48, 48], "threshold": 0.37}
    ckpt.write_checkpoint(path, nnx.state(model), None, meta)
    return model


def test_write_then_load_round_trips(tmp_path: Path):
    model = _write(tmp_path / "hsc_epoch_0001", 1, seed=3)
    assert ckpt.is_complete(tmp_path / "hsc_epoch_0001")
    assert not any(".tmp-" in p.name for p in tmp_path.iterdir())
    loaded = ckpt.load_checkpoint(tmp_path / "hsc_epoch_0001", model_factory=tiny_model_factory)
    model.eval()
    x = jnp.asarray(np.random.default_rng(0).random((2, 48, 48, 3), dtype=np.float32))
    np.testing.assert_allclose(loaded.model(x), model(x), rtol=1e-6)
    assert loaded.contract.threshold == pytest.approx(0.37)
    assert loaded.image_size == (48, 48)


def test_incomplete_folders_are_never_loaded(tmp_path: Path):
    _write(tmp_path / "hsc_epoch_0001", 1)
    _write(tmp_path / "hsc_epoch_0002", 2)
    (tmp_path / "hsc_epoch_0002" / ckpt.COMPLETE_MARKER).unlink()
    (tmp_path / "hsc_epoch_0003.tmp-777").mkdir()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["hsc_epoch_0001"]
    assert ckpt.latest_checkpoint(tmp_path).name == "hsc_epoch_0001"
    with pytest.raises(ckpt.CheckpointError, match="incomplete"):
        ckpt.resolve_checkpoint(tmp_path / "hsc_epoch_0002")
    assert ckpt.resolve_checkpoint(tmp_path).name == "hsc_epoch_0001"
    assert [p.name for p in ckpt.remove_stale_temporaries(tmp_path)] == ["hsc_epoch_0003.tmp-777"]


def test_retention_keeps_the_latest(tmp_path: Path):
    for epoch in range(1, 5):
        _write(tmp_path / ckpt.epoch_checkpoint_name(epoch), epoch)
    deleted = ckpt.prune_checkpoints(tmp_path, "epoch", keep=2)
    assert [p.name for p in deleted] == ["hsc_epoch_0001", "hsc_epoch_0002"]
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["hsc_epoch_0003", "hsc_epoch_0004"]
    assert ckpt.best_checkpoint_name(4, 0.93214) == "hsc_best_epoch0004_f1_0.9321"


def test_model_checkpoint_of_a_real_model(tmp_path: Path):
    config = ModelConfig(base_channels=8, num_blocks=1, arch_variant="baseline")
    model = create_model(config, image_size=(48, 48), seed=1)
    model.eval()
    contract = ModelContract(threshold=0.42)
    path = ckpt.save_model_checkpoint(tmp_path / "converted", model, config, (48, 48), contract)
    loaded = ckpt.load_checkpoint(path)
    assert loaded.model_config == config and loaded.contract.threshold == pytest.approx(0.42)
    x = jnp.asarray(np.random.default_rng(0).random((3, 48, 48, 3), dtype=np.float32))
    np.testing.assert_allclose(loaded.model(x), model(x), rtol=1e-5, atol=1e-6)
    assert not (path / ckpt.OPTIMIZER_DIR).exists()


_WRITER = textwrap.dedent(
    """
    from pathlib import Path
    from flax import nnx
    from fakes import TinyModel
    from hsc_jax.train import checkpoint as ckpt
    out = Path({out!r})
    model = TinyModel(channels=256, rngs=nnx.Rngs(0))
    for epoch in range(1, 1000):
        meta = {{"kind": "epoch", "epoch": epoch, "model_config": {{}}, "image_size": [48, 48],
                 "contract": {{"input_size": [48, 48]}}}}
        ckpt.write_checkpoint(out / ckpt.epoch_checkpoint_name(epoch), nnx.state(model), None, meta)
        print(epoch, flush=True)
    """
)


def test_sigkill_during_writes_never_leaves_a_complete_looking_broken_checkpoint(tmp_path: Path):
    script = _WRITER.format(out=str(tmp_path))
    writer = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_environment(),
    )
    try:
        assert writer.stdout.readline().strip() == "1"  # one checkpoint done, more in flight
        # Kill as soon as the next write has begun (its temporary folder holds something): an
        # Orbax save takes far longer than this loop's millisecond, so the kill lands mid-write.
        deadline = time.monotonic() + 60
        while not any(any(p.iterdir()) for p in tmp_path.glob("*.tmp-*")):
            assert time.monotonic() < deadline, "no second checkpoint was started"
            time.sleep(0.001)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    complete = ckpt.list_checkpoints(tmp_path)
    assert complete, "the first checkpoint finished before the kill"
    for path in complete:
        meta = ckpt.read_meta(path)
        model = TinyModel(channels=256, rngs=nnx.Rngs(1))
        graphdef, template = nnx.split(model)
        import jax

        ckpt.restore_into(
            path / ckpt.MODEL_DIR, template, jax.sharding.SingleDeviceSharding(jax.devices()[0])
        )
        assert meta["epoch"] == int(path.name[-4:])
    # The kill landed during a write: its temporary folder is still there, unfinished, and
    # anything else is a temporary folder too, which nothing loads.
    others = [p for p in tmp_path.iterdir() if p not in complete]
    assert others, "the kill landed between two writes"
    assert all(".tmp-" in p.name for p in others)
    assert not any((p / ckpt.COMPLETE_MARKER).exists() for p in others)
