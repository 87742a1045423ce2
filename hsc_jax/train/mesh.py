"""Devices and the data-parallel mesh.

One mesh axis, "data": the batch is split over it and the parameters are replicated, so every
device runs the same step on its slice and XLA adds the gradient all-reduce. In a multi-process
run (joined in `distributed.py`) the mesh spans every process's devices; each process feeds only
the rows of each batch that its own devices hold, and global arrays are assembled from what each
process holds (`jax.make_array_from_process_local_data`): `device_put` cannot place data on
another process's devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hsc_jax.devices import backend_for
from hsc_jax.errors import DeviceError

DATA_AXIS = "data"


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

    def describe(self, batch_size: int) -> str:
        """One log line: the devices, the processes and the rows of each batch fed here."""
        local_rows = self.local_device_count * batch_size // self.device_count
        return (
            f"devices: {self.device_count} {self.backend} device(s) over {jax.process_count()} "
            f"process(es); global batch {batch_size}, {local_rows} rows fed here"
        )

    def local_slice(self, batch_size: int) -> slice:
        """The rows of a global batch that this process feeds: the shards its devices hold,
        read from the sharding itself rather than assumed from the process index."""
        shards = self.batch.addressable_devices_indices_map((batch_size,)).values()
        starts = sorted(index[0].indices(batch_size)[0] for index in shards)
        stops = sorted(index[0].indices(batch_size)[1] for index in shards)
        rows = slice(starts[0], stops[-1])
        if stops[-1] - starts[0] != batch_size // self.device_count * self.local_device_count:
            raise DeviceError(
                "this process's devices do not hold one contiguous block of the batch "
                f"({starts}..{stops}); give each process whole devices of the mesh"
            )
        return rows

    def put_batch(self, local: np.ndarray) -> jax.Array:
        """This process's rows -> one global array sharded over the data axis."""
        return jax.make_array_from_process_local_data(self.batch, local)

    def put_replicated(self, tree: Any) -> Any:
        """Every leaf replicated on every device of the mesh (each process holds the value)."""
        if jax.process_count() == 1:
            return jax.device_put(tree, self.replicated)

        def place(x: Any) -> Any:
            if isinstance(x, jax.Array) and not x.is_fully_addressable:
                return x  # already global (restored from a checkpoint onto this mesh)
            return jax.make_array_from_process_local_data(self.replicated, x)

        return jax.tree.map(place, tree)


def data_parallel(device: str = "auto") -> DataParallel:
    """A one-axis mesh over every device of the chosen backend, on every host."""
    backend = backend_for(device)
    devices = np.asarray(jax.devices(backend))
    return DataParallel(mesh=Mesh(devices, (DATA_AXIS,)), backend=backend)
