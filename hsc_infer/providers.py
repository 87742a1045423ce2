"""Execution provider choice and session creation, shared by the classifier and the detectors.

`cpu` runs on CPU; `cuda` tries CUDA then CPU; `tensorrt` tries TensorRT, then CUDA, then CPU;
`coreml` (onnxruntime's Apple builds) tries CoreML, then CPU. A provider this onnxruntime build
does not offer is reported once per process (a logging warning) and the next one in the chain is
used.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import onnxruntime as ort

from hsc_infer.errors import ContractError, ProviderError

logger = logging.getLogger(__name__)

ProviderName = Literal["cpu", "cuda", "tensorrt", "coreml"]
PROVIDER_CHOICES: tuple[str, ...] = ("cpu", "cuda", "tensorrt", "coreml")

_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"
_TENSORRT = "TensorrtExecutionProvider"
_COREML = "CoreMLExecutionProvider"
_CHAINS: dict[str, tuple[str, ...]] = {
    "cpu": (_CPU,),
    "cuda": (_CUDA, _CPU),
    "tensorrt": (_TENSORRT, _CUDA, _CPU),
    "coreml": (_COREML, _CPU),
}
# TensorRT cannot build these data-dependent-shape ops since onnxruntime 1.21; leaving them to
# CUDA keeps detector graphs that contain them working.
TRT_EXCLUDED_OPS = "NonMaxSuppression,NonZero,RoiAlign"

_reported_unavailable: set[str] = set()


@dataclass(frozen=True)
class ShapeProfile:
    """The input shapes a TensorRT engine is built for, when a model's input size varies: one
    engine then serves every shape between `smallest` and `largest` (NCHW), tuned for `usual`."""

    input_name: str
    smallest: tuple[int, ...]
    usual: tuple[int, ...]
    largest: tuple[int, ...]

    def options(self) -> dict[str, str]:
        def spell(shape: tuple[int, ...]) -> str:
            return f"{self.input_name}:{'x'.join(map(str, shape))}"

        return {
            "trt_profile_min_shapes": spell(self.smallest),
            "trt_profile_opt_shapes": spell(self.usual),
            "trt_profile_max_shapes": spell(self.largest),
        }


def tensorrt_options(
    cache_dir: str | Path = ".", int8: bool = False, profile: ShapeProfile | None = None
) -> dict[str, Any]:
    """TensorRT options: engine cache on (building an engine takes minutes), FP16 on, and the
    shape profile of a model whose input size varies."""
    options: dict[str, Any] = {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache_dir),
        "trt_fp16_enable": True,
        "trt_op_types_to_exclude": TRT_EXCLUDED_OPS,
    }
    if profile is not None:
        options |= profile.options()
    if int8:
        options |= {
            "trt_int8_enable": True,
            "trt_int8_calibration_table_name": "calibration.flatbuffers",
        }
    return options


def _report_unavailable(name: str, fallback: str) -> None:
    if name in _reported_unavailable:
        return
    _reported_unavailable.add(name)
    logger.warning("%s is not available in this onnxruntime build; using %s", name, fallback)


def resolve_providers(
    provider: str = "cpu",
    trt_cache_dir: str | Path = ".",
    trt_int8: bool = False,
    trt_profile: ShapeProfile | None = None,
) -> list[str | tuple[str, dict[str, Any]]]:
    """The onnxruntime provider list for a choice, keeping only providers this build offers."""
    key = (provider or "cpu").lower()
    if key not in _CHAINS:
        raise ProviderError(f"provider must be one of {PROVIDER_CHOICES}, got {provider!r}")
    available = set(ort.get_available_providers())
    chain = _CHAINS[key]
    usable = [name for name in chain if name in available]
    if not usable:  # CPU is always built in; this guards against an exotic build
        raise ProviderError(f"none of {chain} is available; onnxruntime offers {sorted(available)}")
    for name in chain:
        if name not in available:
            _report_unavailable(name, next(n for n in chain[chain.index(name) :] if n in available))
    return [
        (name, tensorrt_options(trt_cache_dir, trt_int8, trt_profile))
        if name == _TENSORRT
        else name
        for name in usable
    ]


# onnxruntime's session config key for whether idle intra-op threads spin (busy-wait) for work.
ALLOW_SPINNING_KEY = "session.intra_op.allow_spinning"


def session_options(
    intra_op_threads: int | None = None, allow_spinning: bool = True
) -> ort.SessionOptions:
    """Session options; `allow_spinning=False` makes the intra-op pool's idle threads sleep
    instead of spinning, which leaves the cores to other work between short runs."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: provider fallbacks are reported by us
    if intra_op_threads is not None:
        if intra_op_threads < 0:
            raise ValueError(f"intra_op_threads must be >= 0 (0 = default), got {intra_op_threads}")
        options.intra_op_num_threads = intra_op_threads
    if not allow_spinning:
        options.add_session_config_entry(ALLOW_SPINNING_KEY, "0")
    return options


def create_session(
    model_path: str | Path,
    provider: str = "cpu",
    intra_op_threads: int | None = None,
    trt_cache_dir: str | Path = ".",
    trt_int8: bool = False,
    allow_spinning: bool = True,
    trt_profile: ShapeProfile | None = None,
) -> ort.InferenceSession:
    """An InferenceSession on the first usable provider of the chain for `provider`."""
    providers = resolve_providers(provider, trt_cache_dir, trt_int8, trt_profile)
    options = session_options(intra_op_threads, allow_spinning)
    try:
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except Exception as e:  # onnxruntime raises its own types for a file it cannot load
        raise ContractError(
            f"could not load ONNX model {model_path} with providers "
            f"{[p if isinstance(p, str) else p[0] for p in providers]}: {e}"
        ) from e
    # A provider can be listed yet fail to initialise (missing CUDA libraries); onnxruntime then
    # drops it silently, so compare what was asked with what the session got.
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    got = session.get_providers()
    if wanted not in got:
        _report_unavailable(wanted, got[0] if got else "nothing")
    return session


def add_model_arguments(parser: argparse.ArgumentParser, flip_test: bool = False) -> None:
    """`-hm` (the classifier) and `-ep` (the execution provider), as the demo and predict take
    them (the reference's spelling), and `--flip_test` / `--no-flip_test` with the command's own
    default."""
    parser.add_argument(
        "-hm",
        "--hsc_model",
        default=None,
        help="HSC ONNX file, or a shipped model: p, s (default s)",
    )
    parser.add_argument("-ep", "--execution_provider", choices=PROVIDER_CHOICES, default="cpu")
    parser.add_argument(
        "--flip_test",
        action=argparse.BooleanOptionalAction,
        default=flip_test,
        help="average each crop with its mirror image (test-time augmentation; twice the "
        f"classifier's work; default: {'on' if flip_test else 'off'})",
    )
