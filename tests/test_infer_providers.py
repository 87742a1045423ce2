"""Provider chains, TensorRT options and fallback on a CPU-only onnxruntime."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import build_tiny_classifier

from hsc_infer import SmileClassifier, providers
from hsc_infer.detectors.yunet import TENSORRT_PROFILE
from hsc_infer.errors import ProviderError


@pytest.fixture(autouse=True)
def fresh_reports():
    providers._reported_unavailable.clear()
    yield
    providers._reported_unavailable.clear()


def test_cpu_chain():
    assert providers.resolve_providers("cpu") == ["CPUExecutionProvider"]


def test_unknown_provider():
    with pytest.raises(ProviderError, match="provider must be one of"):
        providers.resolve_providers("tpu")


def test_tensorrt_chain_and_options(monkeypatch):
    every = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: every)
    chain = providers.resolve_providers("tensorrt", trt_cache_dir="/tmp/engines")
    name, options = chain[0]
    assert name == "TensorrtExecutionProvider"
    assert chain[1:] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert options["trt_engine_cache_enable"] is True
    assert options["trt_engine_cache_path"] == "/tmp/engines"
    assert options["trt_fp16_enable"] is True
    assert options["trt_op_types_to_exclude"] == "NonMaxSuppression,NonZero,RoiAlign"
    assert providers.resolve_providers("cuda") == every[1:]


def test_yunet_asks_tensorrt_for_one_engine_over_every_frame_size(monkeypatch):
    every = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: every)
    (name, options), *_ = providers.resolve_providers("tensorrt", trt_profile=TENSORRT_PROFILE)
    assert name == "TensorrtExecutionProvider"
    assert options["trt_profile_min_shapes"] == "images:1x3x32x32"
    assert options["trt_profile_opt_shapes"] == "images:1x3x480x640"
    assert options["trt_profile_max_shapes"] == "images:8x3x1920x1920"
    # The classifier's input size is fixed: no profile.
    (_, plain), *_ = providers.resolve_providers("tensorrt")
    assert not any(key.startswith("trt_profile") for key in plain)


def test_coreml_is_selectable_and_falls_back_to_cpu(monkeypatch, caplog):
    monkeypatch.setattr(
        providers.ort,
        "get_available_providers",
        lambda: ["CoreMLExecutionProvider", "CPUExecutionProvider"],
    )
    assert providers.resolve_providers("coreml") == [
        "CoreMLExecutionProvider",
        "CPUExecutionProvider",
    ]
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="hsc_infer.providers"):
        assert providers.resolve_providers("coreml") == ["CPUExecutionProvider"]
    assert "CoreMLExecutionProvider" in caplog.records[0].getMessage()


def test_cuda_falls_back_to_cpu_with_one_warning(tmp_path, caplog):
    if "CUDAExecutionProvider" in providers.ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    model = build_tiny_classifier(tmp_path / "m.onnx")
    with caplog.at_level(logging.WARNING, logger="hsc_infer.providers"):
        clf = SmileClassifier(model, provider="cuda")
        SmileClassifier(model, provider="cuda")  # a second session is not reported again
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CUDAExecutionProvider" in warnings[0].getMessage()
    assert "CPUExecutionProvider" in warnings[0].getMessage()
    assert clf.providers == ["CPUExecutionProvider"]
    assert clf.predict(np.zeros((4, 4, 3), np.uint8)).shape == (1,)


def test_tensorrt_falls_back_reporting_each_missing_provider_once(caplog):
    available = providers.ort.get_available_providers()
    if "CUDAExecutionProvider" in available or "TensorrtExecutionProvider" in available:
        pytest.skip("this onnxruntime has GPU providers")
    with caplog.at_level(logging.WARNING, logger="hsc_infer.providers"):
        assert providers.resolve_providers("tensorrt") == ["CPUExecutionProvider"]
        providers.resolve_providers("tensorrt")
    assert len(caplog.records) == 2  # TensorRT once, CUDA once


def test_intra_op_threads(tmp_path):
    model = build_tiny_classifier(tmp_path / "m.onnx")
    assert providers.session_options(1).intra_op_num_threads == 1
    clf = SmileClassifier(model, intra_op_threads=1)
    assert clf.predict(np.zeros((4, 4, 3), np.uint8)).shape == (1,)
    with pytest.raises(ValueError, match="intra_op_threads"):
        providers.session_options(-1)
