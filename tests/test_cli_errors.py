"""Bad input is one message and exit status 1; any other exception is a bug and keeps its
traceback, through `hsc-jax train` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fakes import TINY_ARCH_FLAGS

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.train.cli import train

TINY = list(TINY_ARCH_FLAGS)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("errors-data") / "synthetic.parquet"
    write_synthetic_parquet(path, 40, seed=0)
    return path


def _args(data_root: Path, output_dir: Path) -> list[str]:
    return ["--data_root", str(data_root), "--output_dir", str(output_dir), "--epochs", "1"]


def _invoke(args: list[str]):
    # catch_exceptions=False: an exception click does not turn into an exit status reaches
    # the test, as it would reach the user's terminal.
    return CliRunner().invoke(train, args, catch_exceptions=False)


def test_a_bug_inside_training_propagates(parquet: Path, tmp_path: Path, monkeypatch):
    def broken_fit(self):
        raise ZeroDivisionError("a bug inside training")

    monkeypatch.setattr("hsc_jax.train.trainer.Trainer.fit", broken_fit)
    with pytest.raises(ZeroDivisionError, match="a bug inside training"):
        _invoke([*_args(parquet, tmp_path / "run"), "--batch_size", "8", *TINY])


def test_a_bug_prints_its_traceback_from_the_command_line(tmp_path: Path):
    data = tmp_path / "data.parquet"
    data.write_bytes(b"")  # only its existence is checked before the failing call
    code = (
        "import sys\n"
        "import hsc_jax.train.trainer as trainer\n"
        "def broken(config, model_factory=None):\n"
        "    raise ZeroDivisionError('a bug inside training')\n"
        "trainer.train = broken\n"
        "from hsc_jax.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    args = ["train", *_args(data, tmp_path / "run")]
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ZeroDivisionError: a bug inside training" in result.stderr


def test_unknown_label_is_one_message_without_traceback(parquet: Path, tmp_path: Path):
    frame = pd.read_parquet(parquet).drop(columns=["class_id"])
    frame.loc[3, "label"] = "grin"
    bad = tmp_path / "bad.parquet"
    frame.to_parquet(bad)
    result = _invoke([*_args(bad, tmp_path / "run"), "--batch_size", "8", *TINY])
    assert result.exit_code == 1
    assert "Error: 1 bad row(s)" in result.output
    assert "row 3" in result.output and "'grin'" in result.output
    assert "Traceback" not in result.output
    assert not list((tmp_path / "run").glob("hsc_epoch_*"))


def test_missing_data_root_is_one_line(tmp_path: Path):
    result = _invoke(_args(tmp_path / "absent.parquet", tmp_path / "run"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: --data_root {tmp_path / 'absent.parquet'} does not exist")
