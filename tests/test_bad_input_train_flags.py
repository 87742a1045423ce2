"""Architecture flags that no model can be built from fail as one `Error:` line naming the
flags, before any data is read or any file written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hsc_jax.train.cli import train

CONVNEXT = ["--arch_variant", "convnext", "--base_channels", "8"]


def _train(tmp_path: Path, *flags: str):
    # A data_root that is not parquet: had the flags passed, reading it would be the error.
    notes = tmp_path / "notes.parquet"
    notes.write_text("not a dataset\n")
    args = ["--data_root", str(notes), "--output_dir", str(tmp_path / "run"), "--epochs", "1"]
    return CliRunner().invoke(train, [*args, *flags], catch_exceptions=False)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--head_variant", "transformer", "--token_mixer_grid", "5x5", "--num_blocks", "4"],
            "--token_mixer_grid 5x5 does not tile the 6x6 feature map of the convnext backbone "
            "(--num_blocks 4) at --image_size 48: its rows must divide 6 and its columns 6 "
            "(e.g. --token_mixer_grid 3x3), or choose another --image_size",
        ),
        (
            ["--head_variant", "mlp_mixer", "--token_mixer_grid", "4x4", "--image_size", "64x48"],
            "--token_mixer_grid 4x4 does not tile the 8x6 feature map of the convnext backbone "
            "(--num_blocks 4) at --image_size 64x48: its rows must divide 8 and its columns 6 "
            "(e.g. --token_mixer_grid 4x3)",
        ),
        (
            ["--token_mixer_grid", "4x4"],  # head auto: convnext's is the transformer
            "--token_mixer_grid 4x4 does not tile the 6x6 feature map",
        ),
        (
            ["--num_blocks", "8", "--image_size", "16"],
            "the convnext backbone (--num_blocks 8) at --image_size 16 leaves no feature map "
            "(0x0); raise --image_size",
        ),
    ],
)
def test_a_model_the_flags_cannot_build_is_one_line(tmp_path: Path, flags, message):
    result = _train(tmp_path, *CONVNEXT, *flags)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), result.output
    assert not (tmp_path / "run").exists()  # nothing written, not even the log


def test_a_grid_that_tiles_the_feature_map_goes_on_to_the_data(tmp_path: Path):
    flags = ["--head_variant", "transformer", "--token_mixer_grid", "3x3", "--num_blocks", "4"]
    result = _train(tmp_path, *CONVNEXT, *flags)
    assert result.exit_code == 1
    assert "Error: cannot read" in result.output and "notes.parquet as parquet" in result.output
