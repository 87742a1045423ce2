"""The training side's errors, all `HscError`s: the CLIs print them as one line, exit 1."""

from __future__ import annotations

from hsc_infer.errors import ContractError, HscError


class ConfigError(HscError, ValueError):
    """A training setting that no run can start from; the message says which and why."""


class CheckpointError(HscError, RuntimeError):
    """A checkpoint that cannot be used: missing, incomplete or from another format."""


class ResumeError(HscError, RuntimeError):
    """--resume cannot be honoured, or a fresh run would overwrite checkpoints."""


class DeviceError(HscError, RuntimeError):
    """The requested device or device count is not available."""


class DistributedError(HscError, RuntimeError):
    """A multi-process run cannot start or go on: a join setting, an unreachable coordinator,
    processes that disagree on the config or the data."""


class PeerLostError(DistributedError):
    """Another process of a multi-process run went away mid-run."""


class ExportMismatchError(HscError, RuntimeError):
    """The exported ONNX model does not compute what the JAX model computes."""


__all__ = [
    "CheckpointError",
    "ConfigError",
    "ContractError",
    "DeviceError",
    "DistributedError",
    "ExportMismatchError",
    "HscError",
    "PeerLostError",
    "ResumeError",
]
