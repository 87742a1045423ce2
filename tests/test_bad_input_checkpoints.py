"""Missing and half-written checkpoints given to `hsc-jax export` and `hsc-jax evaluate`: one
`Error:` line naming the folder, exit status 1, and no output written or replaced."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from bad_inputs import png_claiming
from click.testing import CliRunner

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.evaluation.cli import evaluate, predict
from hsc_jax.export.cli import export
from hsc_jax.models import ModelConfig, create_model
from hsc_jax.train.checkpoint import COMPLETE_MARKER, META_FILE, MODEL_DIR, save_model_checkpoint

IMAGE_SIZE = (16, 16)
PREVIOUS_MODEL = b"an earlier export that must survive"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete model checkpoint of the smallest real network."""
    config = ModelConfig(base_channels=8, num_blocks=1, arch_variant="baseline")
    folder = tmp_path_factory.mktemp("checkpoints") / "hsc_epoch_0001"
    return save_model_checkpoint(folder, create_model(config, IMAGE_SIZE), config, IMAGE_SIZE)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkpoint-data") / "faces.parquet"
    write_synthetic_parquet(path, 20, seed=0, image_size=IMAGE_SIZE[0])
    return path


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


# name -> how a copy of the complete checkpoint is spoiled (None: the folder does not exist)
DAMAGE: dict[str, Callable[[Path], None] | None] = {
    "missing folder": None,
    "no completion marker": lambda folder: (folder / COMPLETE_MARKER).unlink(),
    "no meta.json": lambda folder: (folder / META_FILE).unlink(),
    "meta.json truncated": lambda folder: _truncate(folder / META_FILE),
    "model folder removed": lambda folder: shutil.rmtree(folder / MODEL_DIR),
    # Orbax reports this one as a pytree diff over a dozen lines
    "model metadata removed": lambda folder: (folder / MODEL_DIR / "_METADATA").unlink(),
    "model metadata truncated": lambda folder: _truncate(folder / MODEL_DIR / "_METADATA"),
    "model manifest truncated": lambda folder: _truncate(folder / MODEL_DIR / "manifest.ocdbt"),
    "model arrays truncated": lambda folder: [
        _truncate(f) for f in (folder / MODEL_DIR / "d").iterdir()
    ],
}


def _damaged(checkpoint: Path, tmp_path: Path, damage: str) -> Path:
    folder = tmp_path / "hsc_epoch_0002"
    spoil = DAMAGE[damage]
    if spoil is not None:
        shutil.copytree(checkpoint, folder)
        spoil(folder)
    return folder


def _one_error_line(output: str, folder: Path) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: ") and str(folder) in lines[0], output
    return lines[0]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_export_refuses_a_damaged_checkpoint_and_keeps_the_old_model(
    checkpoint: Path, tmp_path: Path, damage: str
):
    folder = _damaged(checkpoint, tmp_path, damage)
    output = tmp_path / "models" / "hsc.onnx"
    output.parent.mkdir()
    output.write_bytes(PREVIOUS_MODEL)
    args = ["--checkpoint", str(folder), "--output", str(output), "--device", "cpu"]
    result = CliRunner().invoke(export, args, catch_exceptions=False)
    assert result.exit_code == 1
    _one_error_line(result.output, folder)
    assert output.read_bytes() == PREVIOUS_MODEL
    assert [p.name for p in output.parent.iterdir()] == ["hsc.onnx"]  # no temporary left


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_evaluate_refuses_a_damaged_checkpoint_and_writes_nothing(
    checkpoint: Path, parquet: Path, tmp_path: Path, damage: str
):
    folder = _damaged(checkpoint, tmp_path, damage)
    report = tmp_path / "report"
    args = ["--checkpoint", str(folder), "--data_root", str(parquet), "--split", "val"]
    result = CliRunner().invoke(
        evaluate, [*args, "--output_dir", str(report)], catch_exceptions=False
    )
    assert result.exit_code == 1
    _one_error_line(result.output, folder)
    assert not report.exists()


def test_the_messages_say_what_is_wrong(checkpoint: Path, tmp_path: Path):
    expected = {
        "missing folder": "does not exist",
        "no completion marker": "is incomplete (no COMPLETE marker)",
        "meta.json truncated": "meta.json is not valid JSON",
        "model metadata removed": "its files are damaged or do not match",
    }
    for damage, words in expected.items():
        folder = _damaged(checkpoint, tmp_path / damage.replace(" ", "-"), damage)
        output = tmp_path / "out.onnx"
        args = ["--checkpoint", str(folder), "--output", str(output), "--device", "cpu"]
        result = CliRunner().invoke(export, args, catch_exceptions=False)
        assert words in _one_error_line(result.output, folder), damage
        assert not output.exists()


def test_predict_names_every_unreadable_image(checkpoint: Path, tmp_path: Path):
    folder = tmp_path / "crops"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.png"), np.full((20, 20, 3), 200, np.uint8))
    (folder / "garbage.png").write_bytes(b"\x00not an image")
    (folder / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    output = tmp_path / "predictions.csv"
    args = ["--checkpoint", str(checkpoint), "--inputs", str(folder), "--output", str(output)]
    result = CliRunner().invoke(predict, [*args, "--device", "cpu"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot decode 2 image(s): {folder / 'bomb.png'}, {folder / 'garbage.png'}"
    ]
    assert not output.exists()
