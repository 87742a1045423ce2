"""The persistent compilation cache of `hsc-jax train` and the compile times it reports.

A second process with the same settings loads the steps (no new entries, the same losses); a
changed model or batch compiles afresh and trains correctly; an unwritable folder or
`--no_compile_cache` runs without the cache; the first step runs the executable compiled ahead.
Runs use the tiny fake model (a second to compile) with the cache pointed at a fresh folder.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import TinyModel, tiny_config
from flax import nnx
from helpers import child_environment

from hsc_jax.compile_cache import CACHE_DIR_ENV, default_cache_dir, enable_compile_cache
from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.train.trainer import train

# The jax.config entries enable_compile_cache sets; the fixture restores the session's values.
CACHE_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


def width_factory(model_config, image_size, seed=0, depthwise="auto"):
    """The fake model with --base_channels channels: a model setting that changes the step."""
    return TinyModel(channels=model_config.base_channels, rngs=nnx.Rngs(seed))


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cc-data") / "synthetic.parquet"
    write_synthetic_parquet(path, 160, seed=0)
    return path


@pytest.fixture
def no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process as a user's would start: no compilation cache configured, HSC_JAX_CACHE_DIR
    an empty folder to be. The session's cache (conftest) comes back afterwards."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    saved = {name: getattr(jax.config, name) for name in CACHE_SETTINGS}
    folder = tmp_path / "jit-cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)  # for subprocesses
    jax.config.update("jax_compilation_cache_dir", None)
    # JAX opens its cache folder once, at the first compile; this makes it read the config again.
    compilation_cache.reset_cache()
    yield folder
    for name, value in saved.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _train(parquet: Path, output_dir: Path, width: int = 8, **overrides) -> dict:
    config = tiny_config(parquet, output_dir, base_channels=width, **overrides)
    return train(config, model_factory=width_factory)


def _train_in_subprocess(parquet: Path, output_dir: Path, width: int = 8) -> dict:
    """`_train` in a fresh interpreter (its environment: this one's, so the same cache folder)."""
    script = textwrap.dedent(
        f"""
        from test_compile_cache import _train
        from pathlib import Path
        _train(Path({str(parquet)!r}), Path({str(output_dir)!r}), width={width})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_environment(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((output_dir / "summary.json").read_text())


def _history(run: Path) -> list[dict]:
    return json.loads((run / "history.json").read_text())


def _assert_trained(run: Path, summary: dict) -> None:
    """Finite losses, and one finite logit per test example."""
    for epoch in _history(run):
        assert math.isfinite(epoch["train"]["loss"]) and math.isfinite(epoch["val"]["loss"])
    rows = (run / "test_predictions.csv").read_text().splitlines()[1:]
    assert len(rows) == summary["test_metrics"]["count"] > 0
    assert all(math.isfinite(float(row.split(",")[4])) for row in rows)


# --- where the cache lives -------------------------------------------------------------------


def test_the_cache_folder_follows_the_environment():
    home = Path.home() / ".cache" / "hsc-jax" / "jax-compilation"
    assert default_cache_dir({}) == home
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/hsc-jax/jax-compilation")
    both = {"XDG_CACHE_HOME": "/x", CACHE_DIR_ENV: "/y/jit"}
    assert default_cache_dir(both) == Path("/y/jit")


def test_a_cache_folder_chosen_already_is_kept(tmp_path: Path):
    import jax

    chosen = jax.config.jax_compilation_cache_dir  # the session's (conftest)
    assert chosen
    assert enable_compile_cache(tmp_path / "other") == Path(chosen)
    assert jax.config.jax_compilation_cache_dir == chosen
    assert not (tmp_path / "other").exists()


def test_enabling_sets_jax_config(no_cache: Path):
    import jax

    assert enable_compile_cache() == no_cache and no_cache.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(no_cache)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
    assert jax.config.jax_persistent_cache_min_entry_size_bytes == 0
    assert _entries(no_cache) == set()  # the write probe leaves nothing


def test_an_unwritable_folder_warns_once_and_leaves_the_cache_off(
    no_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    import jax

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="hsc_jax"):
        assert enable_compile_cache(blocker / "cache") is None
    (record,) = caplog.records
    assert "compilation cache off: cannot write" in record.getMessage()
    assert "\n" not in record.getMessage()
    assert jax.config.jax_compilation_cache_dir is None


def test_the_flag_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch):
    from hsc_jax.train.cli import train as train_command

    configs = []

    def fake_train(config, model_factory=None):
        configs.append(config)
        return {"best_checkpoint": "-", "best_epoch": 0, "best_f1": 0.0}

    monkeypatch.setattr("hsc_jax.train.trainer.train", fake_train)
    for flags, expected in (([], True), (["--no_compile_cache"], False)):
        result = CliRunner().invoke(train_command, ["--data_root", "x.parquet", *flags])
        assert result.exit_code == 0, result.output
        assert configs.pop().compile_cache is expected


# --- training runs ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_process_loads_the_steps_and_a_changed_model_compiles_afresh(
    parquet: Path, no_cache: Path, tmp_path: Path
):
    first = _train_in_subprocess(parquet, tmp_path / "first")
    assert first["compile_s"]["cache"] == "miss"
    assert first["compile_s"]["cache_dir"] == str(no_cache)
    written = _entries(no_cache)
    assert written

    # Same settings in another process: both steps load, nothing is added, the run is the same.
    again = _train(parquet, tmp_path / "again")
    assert again["compile_s"]["cache"] == "hit"
    assert _entries(no_cache) == written
    for a, b in zip(_history(tmp_path / "first"), _history(tmp_path / "again"), strict=True):
        assert b["train"]["loss"] == pytest.approx(a["train"]["loss"], rel=1e-6)
        assert b["val"]["loss"] == pytest.approx(a["val"]["loss"], rel=1e-6)

    # A wider model: the entries the other process wrote do not match; new ones are compiled.
    wider = _train(parquet, tmp_path / "wider", width=16)
    assert wider["compile_s"]["cache"] == "miss"
    assert wider["parameters"] > again["parameters"]
    assert _entries(no_cache) > written
    _assert_trained(tmp_path / "wider", wider)


@pytest.mark.slow
def test_the_run_reports_compile_times_and_the_first_step_does_not_compile(
    parquet: Path, tmp_path: Path
):
    from jax import monitoring

    compiled: list[str] = []

    def listen(event: str, duration: float, fun_name: str = "", **_) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(fun_name)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        summary = _train(parquet, tmp_path / "run")
    finally:
        monitoring.unregister_event_duration_listener(listen)
    # Once each, ahead of the loop: the first train and eval calls reuse those executables.
    assert sum("train_step" in name for name in compiled) == 1, compiled
    assert sum("eval_step" in name for name in compiled) == 1, compiled
    timing = summary["compile_s"]
    assert timing["train_step"] > 0 and timing["eval_step"] > 0
    assert timing["cache"] in ("hit", "miss")  # the session's cache is on
    log = (tmp_path / "run" / "train.log").read_text()
    assert f"compiled train step {timing['train_step']:.1f}s, eval step" in log
    assert f"(compilation cache {timing['cache']}: {timing['cache_dir']})" in log


@pytest.mark.slow
def test_no_compile_cache_runs_without_one(parquet: Path, no_cache: Path, tmp_path: Path):
    off = _train(parquet, tmp_path / "off", compile_cache=False)
    assert off["compile_s"]["cache"] == "off" and off["compile_s"]["cache_dir"] is None
    assert not no_cache.exists()
    assert "(compilation cache off)" in (tmp_path / "off" / "train.log").read_text()


@pytest.mark.slow
def test_an_unwritable_cache_folder_costs_one_warning_not_the_run(
    parquet: Path, no_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))
    summary = _train(parquet, tmp_path / "run")
    assert summary["compile_s"]["cache"] == "off"
    log = (tmp_path / "run" / "train.log").read_text()
    assert log.count("compilation cache off: cannot write") == 1
    _assert_trained(tmp_path / "run", summary)
