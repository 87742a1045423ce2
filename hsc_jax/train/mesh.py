"""Devices, the data-parallel mesh and the multi-host runtime.

One mesh axis, "data": the batch is split over it and the parameters are replicated, so every
device runs the same step on its slice and XLA adds the gradient all-reduce. Several hosts join
through JAX's own distributed runtime; each reads only its own part of every batch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hsc_jax.errors import DeviceError

DATA_AXIS = "data"
# Environment variables that mean "this process is one of several hosts".
_DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS")

log = logging.getLogger("hsc_jax.train")


def maybe_initialize_distributed() -> None:
    """Join the multi-host runtime when the environment describes one (idempotent).

    `jax.distributed.initialize()` reads JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
    JAX_PROCESS_ID (or a cluster's own variables, e.g. SLURM); a single host skips it.
    """
    if not any(os.environ.get(name) for name in _DISTRIBUTED_ENV):
        return
    if jax.distributed.is_initialized():
        return
    jax.distributed.initialize()
    log.info(
        "distributed runtime: process %d of %d, %d local devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
    )


def backend_for(device: str) -> str:
    """Map the --device choice to a JAX backend name, refusing kinds this machine lacks."""
    if device == "auto":
        return jax.default_backend()
    wanted = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "tpu": "tpu"}[device]
    try:
        jax.devices(wanted)
    except RuntimeError as e:
        raise DeviceError(
            f"--device {device} asked for, but JAX has no {wanted} backend here "
            f"(available: {jax.default_backend()}); use --device auto or cpu"
        ) from e
    return wanted


@dataclass(frozen=True)
class DataParallel:
    """The mesh and the two shardings the trainer needs."""

    mesh: Mesh
    backend: str

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    @property
    def device_count(self) -> int:
        return self.mesh.devices.size

    @property
    def local_device_count(self) -> int:
        return len(self.mesh.local_devices)

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.device_count:
            raise DeviceError(
                f"--batch_size {batch_size} must divide by the number of devices "
                f"({self.device_count} {self.backend} devices over {jax.process_count()} "
                f"host(s)); try {max(self.device_count, batch_size // self.device_count * self.device_count)}"
            )

    def local_slice(self, batch_size: int) -> slice:
        """The rows of a global batch that this host feeds (its devices' shards)."""
        per_host = batch_size // jax.process_count()
        start = jax.process_index() * per_host
        return slice(start, start + per_host)

    def put_batch(self, local: np.ndarray) -> jax.Array:
        """This host's rows -> one global array sharded over the data axis."""
        return jax.make_array_from_process_local_data(self.batch, local)

    def put_replicated(self, tree):
        return jax.device_put(tree, self.replicated)


def data_parallel(device: str = "auto") -> DataParallel:
    """A one-axis mesh over every device of the chosen backend, on every host."""
    backend = backend_for(device)
    devices = np.asarray(jax.devices(backend))
    return DataParallel(mesh=Mesh(devices, (DATA_AXIS,)), backend=backend)
