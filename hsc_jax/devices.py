"""The `--device` flag of every command: which JAX backend runs the work.

`auto` takes what JAX picks (an accelerator when there is one). `cuda`/`gpu` on a machine
without one falls back to the CPU with a warning, as the reference does, so a recipe written
for a GPU still runs on a laptop; a missing TPU is an error, since nothing else is meant.
JAX is imported only when a device is resolved, so `--help` stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hsc_jax.errors import DeviceError

if TYPE_CHECKING:
    import jax

DEVICES = ("auto", "cpu", "gpu", "cuda", "tpu")
_BACKENDS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "tpu": "tpu"}

log = logging.getLogger("hsc_jax")


def backend_for(device: str) -> str:
    """The JAX backend name for a --device choice on this machine."""
    import jax

    if device == "auto":
        return jax.default_backend()
    if device not in _BACKENDS:
        raise DeviceError(f"--device must be one of {DEVICES}, got {device!r}")
    wanted = _BACKENDS[device]
    try:
        jax.devices(wanted)
    except RuntimeError as e:
        if wanted == "gpu":
            log.warning("--device %s: JAX finds no GPU here; running on the CPU", device)
            return "cpu"
        raise DeviceError(
            f"--device {device} asked for, but JAX has no {wanted} backend here "
            f"(available: {jax.default_backend()}); use --device auto or cpu"
        ) from e
    return wanted


@contextmanager
def on_device(device: str) -> Iterator[str]:
    """Run the block with the chosen backend's first local device as JAX's default."""
    import jax

    backend = backend_for(device)
    with jax.default_device(jax.local_devices(backend=backend)[0]):
        yield backend


def default_device() -> jax.Device:
    """The device arrays land on: the one `on_device` chose, else the first local one."""
    import jax

    return jax.config.jax_default_device or jax.local_devices()[0]
