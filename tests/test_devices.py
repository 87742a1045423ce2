"""`--device` for every command that runs a model: cuda without a GPU falls back to the CPU."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from hsc_jax.devices import backend_for
from hsc_jax.errors import DeviceError


def _has(backend: str) -> bool:
    import jax

    try:
        jax.devices(backend)
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(_has("gpu"), reason="this machine has a GPU: nothing falls back")
@pytest.mark.parametrize("device", ["cuda", "gpu"])
def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_warning(device, caplog):
    with caplog.at_level(logging.WARNING, logger="hsc_jax"):
        assert backend_for(device) == "cpu"
    assert f"--device {device}" in caplog.text and "CPU" in caplog.text


@pytest.mark.skipif(_has("tpu"), reason="this machine has a TPU")
def test_a_missing_tpu_is_an_error_naming_the_flag():
    with pytest.raises(DeviceError, match="--device tpu"):
        backend_for("tpu")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from hsc_jax.models import ModelConfig, create_model
    from hsc_jax.train.checkpoint import save_model_checkpoint

    config = ModelConfig(arch_variant="baseline", base_channels=4, num_blocks=1, head_variant="avg")
    model = create_model(config, image_size=(16, 16), seed=0)
    return save_model_checkpoint(
        tmp_path_factory.mktemp("run") / "hsc_epoch_0001", model, config, (16, 16)
    )


@pytest.mark.skipif(_has("gpu"), reason="this machine has a GPU: nothing falls back")
def test_predict_and_export_take_device(checkpoint: Path, tmp_path: Path):
    from hsc_jax.evaluation.cli import predict
    from hsc_jax.export.cli import export

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.full((20, 20, 3), 128, np.uint8))
    runner = CliRunner()
    result = runner.invoke(
        predict, ["--checkpoint", str(checkpoint), "--inputs", str(image), "--device", "cuda"]
    )
    assert result.exit_code == 0, result.output
    assert "face.png" in result.output
    output = tmp_path / "m.onnx"
    result = runner.invoke(
        export,
        ["--checkpoint", str(checkpoint), "--output", str(output), "--device", "cuda"],
    )
    assert result.exit_code == 0, result.output
    assert output.is_file()
    result = runner.invoke(
        predict, ["--checkpoint", str(checkpoint), "--inputs", str(image), "--device", "nope"]
    )
    assert result.exit_code == 2 and "--device" in result.output


@pytest.mark.skipif(_has("gpu"), reason="this machine has a GPU: nothing falls back")
def test_training_with_cuda_runs_on_the_cpu():
    from hsc_jax.train.mesh import data_parallel

    assert data_parallel("cuda").backend == "cpu"
