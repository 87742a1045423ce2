"""Two `hsc-jax train` processes on localhost, one CPU device each, joined through JAX's own
distributed runtime: the same losses as one process with two devices, one set of outputs, a
checkpoint that predicts and exports, a killed process that stops the other, and a resume.

Each run starts real processes (about 10 s each on 2 cores, most of it importing JAX and
compiling), so those tests are marked slow; the join-settings tests start none.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import TINY_ARCH_FLAGS

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.errors import DistributedError
from hsc_jax.train import checkpoint as ckpt
from hsc_jax.train.distributed import plan_join

# A tiny real architecture (the processes run the CLI, so the tests' fake model is not there);
# batch 8 over a 360-image train split: 45 steps an epoch, long enough to kill one mid-epoch.
SETTINGS = [
    *("--batch_size", "8", "--train_ratio", "0.6", "--val_ratio", "0.2", "--test_ratio", "0.2"),
    *("--seed", "0", *TINY_ARCH_FLAGS),
    *("--num_workers", "1", "--join_timeout", "120"),
]
RUN_TIMEOUT_S = 300


def _command() -> list[str]:
    script = Path(sys.executable).with_name("hsc-jax")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hsc_jax"]


def _env(devices: int = 1) -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(
    data: Path, output_dir: Path, *extra: str, via_env: bool = False, **join: int
) -> list[subprocess.Popen]:
    """One process, or (num_processes=N) N processes joined at a fresh localhost port, told by
    flags or (via_env) by the JAX_* environment variables; each one's console goes to
    <output_dir>.p<i>.log."""
    count = join.get("num_processes", 1)
    base = [*_command(), "train", "--data_root", str(data), "--output_dir", str(output_dir)]
    base += [*SETTINGS, *extra]
    port = _free_port()
    processes = []
    for i in range(count):
        command = list(base)
        env = _env(devices=1 if count > 1 else join.get("devices", 1))
        settings = {
            "coordinator_address": f"127.0.0.1:{port}",
            "num_processes": str(count),
            "process_id": str(i),
        }
        if count > 1 and via_env:
            env.update({f"JAX_{name.upper()}": value for name, value in settings.items()})
        elif count > 1:
            command += [item for name, value in settings.items() for item in (f"--{name}", value)]
        log = open(output_dir.with_name(f"{output_dir.name}.p{i}.log"), "w")  # noqa: SIM115
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        log.close()
    return processes


def _finish(processes: list[subprocess.Popen], output_dir: Path) -> None:
    codes = [p.wait(timeout=RUN_TIMEOUT_S) for p in processes]
    logs = [_console(output_dir, i) for i in range(len(processes))]
    assert codes == [0] * len(processes), "\n".join(log[-3000:] for log in logs)


def _console(output_dir: Path, process: int) -> str:
    return output_dir.with_name(f"{output_dir.name}.p{process}.log").read_text()


def _array_bytes(checkpoint: Path, process: int | str = "*") -> int:
    """Bytes of array data in a checkpoint (Orbax's per-process data files), of every process
    or of one."""
    return sum(p.stat().st_size for p in checkpoint.glob(f"*/ocdbt.process_{process}/d/*"))


def _history(run: Path) -> list[dict]:
    return json.loads((run / "history.json").read_text())


def _same_losses(a: list[dict], b: list[dict], rel: float) -> None:
    assert [h["epoch"] for h in a] == [h["epoch"] for h in b]
    for x, y in zip(a, b, strict=True):
        for split in ("train", "val"):
            assert y[split]["loss"] == pytest.approx(x[split]["loss"], rel=rel), (x["epoch"], split)
            assert y[split]["f1"] == pytest.approx(x[split]["f1"], rel=rel, abs=1e-9)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mp-data") / "synthetic.parquet"
    write_synthetic_parquet(path, 600, seed=0)
    return path


@pytest.fixture(scope="module")
def runs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two epochs as one process with two devices and as two processes, at the same time."""
    root = tmp_path_factory.mktemp("mp-runs")
    one, two = root / "one_process_two_devices", root / "two_processes"
    started = {one: _start(data, one, "--epochs", "2", devices=2)}
    # Told by the JAX_* environment variables (the kill test below uses the flags).
    started[two] = _start(data, two, "--epochs", "2", via_env=True, num_processes=2)
    for output_dir, processes in started.items():
        _finish(processes, output_dir)
    return {"one": one, "two": two}


@pytest.mark.slow
def test_two_processes_give_the_losses_of_one_process_with_two_devices(runs: dict[str, Path]):
    _same_losses(_history(runs["one"]), _history(runs["two"]), rel=1e-4)
    summary = json.loads((runs["two"] / "summary.json").read_text())
    assert summary["devices"] == {"backend": "cpu", "count": 2, "processes": 2}
    # Validation and test cover each example once, as one process does.
    one = json.loads((runs["one"] / "summary.json").read_text())
    assert summary["test_metrics"]["count"] == one["test_metrics"]["count"]
    assert summary["test_metrics"]["loss"] == pytest.approx(one["test_metrics"]["loss"], rel=1e-4)


@pytest.mark.slow
def test_two_processes_leave_one_set_of_outputs(runs: dict[str, Path]):
    two = runs["two"]
    names = sorted(p.name for p in two.iterdir())
    assert len([n for n in names if n.startswith("events.out.tfevents")]) == 1
    assert {"history.json", "summary.json", "train.log", "test_predictions.csv"} <= set(names)
    assert [p.name for p in ckpt.list_checkpoints(two)] == ["hsc_epoch_0001", "hsc_epoch_0002"]
    assert not [n for n in names if ".tmp-" in n or ".old-" in n]
    # One copy of the arrays: Orbax shares the writing of replicated arrays out between the
    # processes, so the second process writes a share of what one process alone writes, not a
    # copy. (Process 0's files are no measure: on a model this small, about 10 KB, its OCDBT
    # index nodes, written anew at each flush, took from 1.0x to 1.6x a whole copy between runs
    # on a busy machine.)
    for name in ("hsc_epoch_0001", "hsc_epoch_0002"):
        whole = _array_bytes(runs["one"] / name)
        second = _array_bytes(runs["two"] / name, process=1)
        assert 0 < second < 0.75 * whole, (second, whole)
    log = (two / "train.log").read_text()
    assert "[process 0]" in log and "[process 1]" not in log
    assert "[process 1]" in _console(two, 1) and "epoch 2/2" in _console(two, 1)
    rows = (two / "test_predictions.csv").read_text().splitlines()
    one_rows = (runs["one"] / "test_predictions.csv").read_text().splitlines()
    assert len(rows) == len(one_rows)


@pytest.mark.slow
def test_the_best_checkpoint_predicts_and_exports(runs: dict[str, Path], data: Path, tmp_path):
    import pandas as pd

    from hsc_jax.evaluation.cli import predict
    from hsc_jax.export.cli import export

    crops = tmp_path / "crops"
    crops.mkdir()
    for i, image in enumerate(pd.read_parquet(data).head(3)["image_bytes"]):
        (crops / f"{i}.png").write_bytes(image)
    result = CliRunner().invoke(
        predict, ["--checkpoint", str(runs["two"]), "--inputs", str(crops), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert "prob_smiling" in result.output and "2.png" in result.output
    onnx_path = tmp_path / "two.onnx"
    result = CliRunner().invoke(
        export, ["--checkpoint", str(runs["two"]), "--output", str(onnx_path)]
    )
    assert result.exit_code == 0, result.output
    assert onnx_path.is_file()


@pytest.mark.slow
def test_a_killed_process_stops_the_other_and_the_run_resumes(
    runs: dict[str, Path], data: Path, tmp_path: Path
):
    run = tmp_path / "killed"
    survivor, victim = _start(data, run, "--epochs", "2", num_processes=2)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while "epoch 2: step" not in _console(run, 1):
            assert time.monotonic() < deadline and victim.poll() is None, _console(run, 1)
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        code = survivor.wait(timeout=60)
        waited = time.monotonic() - killed_at
    finally:
        for process in (survivor, victim):
            if process.poll() is None:
                process.kill()
            process.wait()
    console = _console(run, 0)
    assert code != 0 and waited < 60
    assert "lost process 1 of this 2-process run" in console, console[-3000:]
    # Epoch 1's checkpoint is whole and loads; epoch 2 never looks complete.
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["hsc_epoch_0001"]
    loaded = ckpt.load_checkpoint(run / "hsc_epoch_0001")
    assert loaded.meta["epoch"] == 1
    # Both processes again, resuming, and now streaming their rows of each batch from the
    # index instead of holding every image: the history of the uninterrupted two-process run.
    index = ("--data_cache", "stream", "--stream_cache_dir", str(tmp_path / "index"))
    resumed = _start(data, run, "--epochs", "2", "--resume", "auto", *index, num_processes=2)
    _finish(resumed, run)
    assert "resumed from" in _console(run, 1) and "decoded images in stream" in _console(run, 1)
    _same_losses(_history(runs["two"]), _history(run), rel=1e-6)


@pytest.mark.slow
def test_processes_that_disagree_both_stop_naming_the_setting(data: Path, tmp_path: Path):
    run = tmp_path / "disagree"
    port = _free_port()
    base = [*_command(), "train", "--data_root", str(data), "--output_dir", str(run), *SETTINGS]
    join = ["--coordinator_address", f"127.0.0.1:{port}", "--num_processes", "2", "--epochs", "1"]
    # Process 1 alone is given another learning rate.
    started = [
        subprocess.Popen(
            [*base, *join, "--process_id", str(i), *(["--lr", "0.001"] if i == 1 else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=RUN_TIMEOUT_S)[0] for p in started]
    for process, output in zip(started, outputs, strict=True):
        assert process.returncode == 1, output[-2000:]
        assert (
            "disagree on the settings" in output
            and "--lr: process 0 0.0001, process 1 0.001" in output
        )
    assert not ckpt.existing_checkpoint_folders(run)


# --- join settings: no processes needed -------------------------------------------------------


def test_join_settings_come_from_flags_then_environment():
    assert not plan_join(environ={}).multi_process
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "4"}
    plan = plan_join(process_id=3, environ=env)
    assert (plan.coordinator_address, plan.num_processes, plan.process_id) == (
        "10.0.0.1:1234",
        4,
        3,
    )
    assert plan.source == "environment + flags"
    assert plan_join(num_processes=1, environ={}).num_processes == 1


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"num_processes": 2}, {}, "--coordinator_address .* missing"),
        ({"num_processes": 2, "process_id": 2, "coordinator_address": "h:1"}, {}, "out of range"),
        ({}, {"JAX_NUM_PROCESSES": "two"}, "JAX_NUM_PROCESSES='two' is not a valid int"),
        ({"num_processes": 2, "process_id": 0, "coordinator_address": "nohost"}, {}, "HOST:PORT"),
    ],
)
def test_bad_join_settings_are_refused_before_joining(flags: dict, env: dict, message: str):
    with pytest.raises(DistributedError, match=message):
        plan_join(**flags, environ=env)


def test_a_slurm_job_is_detected(monkeypatch: pytest.MonkeyPatch):
    """JAX's cluster auto-detection fills what flags and JAX_* variables leave unset."""
    slurm = {
        "SLURM_JOB_ID": "77",
        "SLURM_STEP_NODELIST": "node[001-002]",
        "SLURM_NTASKS": "2",
        "SLURM_PROCID": "1",
        "SLURM_LOCALID": "0",
    }
    for name, value in slurm.items():
        monkeypatch.setenv(name, value)
    plan = plan_join(environ={})
    assert (plan.num_processes, plan.process_id) == (2, 1)
    assert plan.coordinator_address.startswith("node001:") and "cluster" in plan.source
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_PROCID", "0")
    assert not plan_join(environ={}).multi_process  # a one-task job has nobody to join


@pytest.mark.slow
def test_an_unreachable_coordinator_is_a_clear_error(data: Path, tmp_path: Path):
    port = _free_port()
    command = [*_command(), "train", "--data_root", str(data), "--output_dir", str(tmp_path)]
    command += ["--coordinator_address", f"127.0.0.1:{port}", "--num_processes", "2"]
    command += ["--process_id", "1", "--join_timeout", "2"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=_env()
    )
    assert result.returncode == 1
    assert f"could not reach the coordinator at 127.0.0.1:{port} within 2 s" in result.stderr
