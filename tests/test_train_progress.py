"""The progress line of a long epoch counts the steps the device has finished, not the steps
dispatched ahead of it."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from hsc_jax.train.loops import _heartbeat
from hsc_jax.train.pipeline import EpochPlan


class StepStillRunning:
    """A step's loss whose computation ends `seconds` after it is waited for."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.waited = False

    def block_until_ready(self) -> StepStillRunning:
        time.sleep(self.seconds)
        self.waited = True
        return self


def test_the_progress_rate_waits_for_the_step(caplog: pytest.LogCaptureFixture):
    plan = EpochPlan(epoch=1, batches=np.zeros((20, 8), np.int64), pos_weight=1.0)
    loss = StepStillRunning(0.5)
    start = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="hsc_jax.train"):
        _heartbeat(plan, step=4, start=start, batch_size=8, loss=loss)  # step 5 of 20: a line
    assert loss.waited
    (line,) = [r.getMessage() for r in caplog.records if "step 5/20" in r.getMessage()]
    rate = float(line.split(", ")[-1].split()[0])
    assert rate <= 5 * 8 / 0.5  # 5 steps of 8 images took at least the 0.5 s waited for


def test_no_wait_between_progress_lines(caplog: pytest.LogCaptureFixture):
    plan = EpochPlan(epoch=1, batches=np.zeros((20, 8), np.int64), pos_weight=1.0)
    loss = StepStillRunning(0.5)
    with caplog.at_level(logging.INFO, logger="hsc_jax.train"):
        _heartbeat(plan, step=5, start=time.perf_counter(), batch_size=8, loss=loss)
    assert not loss.waited and not caplog.records
