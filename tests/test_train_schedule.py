"""Cosine annealing (`--lr_schedule cosine`): its rates, its state across a resume, and a run
that follows it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import TINY_ARCH_FLAGS

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.train.cli import train
from hsc_jax.train.schedule import (
    CosineAnnealing,
    ReduceOnPlateau,
    make_schedule,
    schedule_from_state,
)


def test_cosine_falls_from_the_peak_towards_zero_whatever_the_loss():
    schedule = make_schedule("cosine", 1e-3, epochs=4)
    rates = []
    for loss in (0.5, 0.1, 0.9, 0.05):  # the loss plays no part
        rates.append(schedule.lr)
        schedule.step(loss)
    expected = [1e-3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert rates == pytest.approx(expected)
    assert rates[0] == pytest.approx(1e-3) and rates[2] == pytest.approx(5e-4)


def test_a_resumed_cosine_run_given_more_epochs_stretches_to_its_end():
    schedule = CosineAnnealing(peak=1e-3, epochs=4, epochs_done=4)  # finished
    stretched = schedule_from_state(schedule.state_dict(), epochs=8)
    assert stretched.epochs == 8 and stretched.lr == pytest.approx(5e-4)  # half way


def test_each_schedule_comes_back_from_its_state():
    cosine = CosineAnnealing(peak=2e-3, epochs=10, epochs_done=3)
    restored = schedule_from_state(json.loads(json.dumps(cosine.state_dict())), epochs=10)
    assert restored == cosine and restored.lr == cosine.lr
    plateau = ReduceOnPlateau(lr=1e-3, bad_epochs=1)
    assert schedule_from_state(json.loads(json.dumps(plateau.state_dict())), epochs=10) == plateau
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        make_schedule("step", 1e-3, 3)


def test_a_run_follows_the_cosine_schedule(tmp_path: Path):
    data = tmp_path / "synthetic.parquet"
    write_synthetic_parquet(data, 80, seed=2)
    run = tmp_path / "run"
    args = ["--data_root", str(data), "--output_dir", str(run), "--epochs", "3", "--lr", "0.004"]
    args += ["--batch_size", "16", "--max_steps_per_epoch", "1", "--lr_schedule", "cosine"]
    result = CliRunner().invoke(train, [*args, *TINY_ARCH_FLAGS])
    assert result.exit_code == 0, result.output + repr(result.exception)
    history = json.loads((run / "history.json").read_text())
    rates = [entry["lr"] for entry in history]
    assert rates == pytest.approx([0.004, 0.003, 0.001])
