"""Joining a multi-process run through JAX's own distributed runtime, and keeping it honest.

Where the settings come from, per setting, first found wins:

1. the flags --coordinator_address, --num_processes, --process_id;
2. the environment variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID
   (`jax.distributed.initialize()` alone reads only the first of them);
3. JAX's cluster auto-detection (SLURM, Open MPI, Kubernetes, TPU pods).

With none of them the run is one process and nothing is joined. Every failure that a user can
fix (a half-given setting, a process id out of range, a coordinator nobody answers at, processes
that disagree on the config or the dataset, a process that dies) is a `DistributedError` that
says what to fix, raised on every process rather than left to hang.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsc_jax.errors import DistributedError, PeerLostError

log = logging.getLogger("hsc_jax.train")

# TrainConfig field -> the environment variable JAX documents for it.
ENV_VARS = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}
_DISPATCH_PREFIX = re.compile(r"(?:Error dispatching computation: )+")
# How often a process that is not the coordinator knocks while process 0 is starting up.
_PROBE_INTERVAL_S = 0.5
# Text of the runtime errors that mean a peer went away in a collective (Gloo on CPU, NCCL on
# GPU) or the coordination service lost a task.
_LOST_PEER_MARKERS = (
    "gloo",
    "connection reset",
    "connection closed",
    "socket closed",
    "heartbeat",
    "nccl",
    "unavailable",
)


@dataclass(frozen=True)
class JoinPlan:
    """How this process takes part: alone, or as `process_id` of `num_processes`."""

    coordinator_address: str | None
    num_processes: int
    process_id: int
    source: str  # "flags", "environment", "cluster <name>", or "single process"

    @property
    def multi_process(self) -> bool:
        return self.num_processes > 1


def plan_join(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> JoinPlan:
    """Decide from flags, then environment, then cluster detection; check before joining."""
    environ = os.environ if environ is None else environ
    given = {
        "coordinator_address": coordinator_address,
        "num_processes": num_processes,
        "process_id": process_id,
    }
    origin: dict[str, str] = {
        name: "--" + name for name, value in given.items() if value is not None
    }
    for name, variable in ENV_VARS.items():
        if given[name] is None and environ.get(variable, "").strip():
            given[name] = _from_env(
                variable, environ[variable], int if name != "coordinator_address" else str
            )
            origin[name] = variable
    missing = [name for name, value in given.items() if value is None]
    if missing:
        cluster = detected_cluster()
        if cluster is not None:
            filled = _cluster_values(cluster, missing)
            given.update(filled)
            origin.update({name: f"cluster {cluster.__name__}" for name in filled})
            missing = [name for name, value in given.items() if value is None]
    if len(missing) == len(given):
        return JoinPlan(None, 1, 0, "single process")
    if given["num_processes"] == 1 and given["process_id"] in (None, 0):
        # One process (a one-task SLURM step, say) has nobody to join.
        return JoinPlan(None, 1, 0, "single process")
    if missing:
        said = ", ".join(f"{origin[n]}={given[n]}" for n in given if n in origin)
        needed = ", ".join(f"--{n} (or {ENV_VARS[n]})" for n in missing)
        raise DistributedError(
            f"a multi-process run needs all three join settings: {said} given, {needed} missing"
        )
    count, index, address = (
        int(given["num_processes"]),
        int(given["process_id"]),
        given["coordinator_address"],
    )
    if count < 1:
        raise DistributedError(f"{origin['num_processes']} must be >= 1, got {count}")
    if not 0 <= index < count:
        raise DistributedError(
            f"{origin['process_id']}={index} is out of range for {origin['num_processes']}={count}: "
            f"process ids are 0..{count - 1}"
        )
    _split_address(str(address), origin["coordinator_address"])
    sources = sorted(
        {
            o if o.startswith("cluster") else ("flags" if o.startswith("--") else "environment")
            for o in origin.values()
        }
    )
    return JoinPlan(str(address), count, index, " + ".join(sources))


def detected_cluster() -> Any | None:
    """The cluster environment JAX's auto-detection would use here (SLURM, Open MPI, ...), or
    None. JAX keeps the detectors in a private module; without it there is no detection."""
    try:
        from jax._src import clusters
    except ImportError:  # a JAX without the detectors: flags and environment still work
        return None
    for env in clusters.ClusterEnv._cluster_types:
        if not env.opt_in_only_method and env.is_env_present():
            return env
    return None


def _cluster_values(cluster: Any, names: list[str]) -> dict[str, Any]:
    getters = {
        "num_processes": cluster.get_process_count,
        "process_id": cluster.get_process_id,
        "coordinator_address": lambda: cluster.get_coordinator_address(
            timeout_secs=None, override_coordinator_port=os.environ.get("JAX_COORDINATOR_PORT")
        ),
    }
    return {name: getters[name]() for name in names}


def _from_env(variable: str, text: str, kind: type) -> Any:
    try:
        return kind(text.strip())
    except ValueError as e:
        raise DistributedError(f"{variable}={text!r} is not a valid {kind.__name__}") from e


def _split_address(address: str, origin: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributedError(f"{origin}={address!r} must be HOST:PORT, e.g. 10.0.0.1:12355")
    return host.strip("[]"), int(port)


def join(plan: JoinPlan, join_timeout: int, peer_timeout: int) -> None:
    """Join the run `plan` describes (nothing for a single process), before JAX starts a backend.

    On CPU the cross-process collectives go through Gloo. A process that stops sending
    heartbeats for `peer_timeout` seconds is declared lost and the others stop.
    """
    import jax

    if not plan.multi_process or jax.distributed.is_initialized():
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    assert plan.coordinator_address is not None
    _check_coordinator(plan, join_timeout)
    log.info(
        "joining a %d-process run at %s as process %d (settings from %s; waiting up to %d s "
        "for every process)",
        plan.num_processes,
        plan.coordinator_address,
        plan.process_id,
        plan.source,
        join_timeout,
    )
    jax.distributed.initialize(
        coordinator_address=plan.coordinator_address,
        num_processes=plan.num_processes,
        process_id=plan.process_id,
        initialization_timeout=join_timeout,
        heartbeat_timeout_seconds=peer_timeout,
        shutdown_timeout_seconds=peer_timeout,
    )
    log.info(
        "joined: process %d of %d, %d local device(s), %d in all",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def _check_coordinator(plan: JoinPlan, timeout: int) -> None:
    """Fail in Python, with the fix, where the runtime would abort: process 0's port already
    taken (another run, or two processes given id 0), or no coordinator within the timeout."""
    assert plan.coordinator_address is not None
    host, port = _split_address(plan.coordinator_address, "--coordinator_address")
    if plan.process_id == 0:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError as e:
                raise DistributedError(
                    f"process 0 cannot serve the coordinator on port {port}: {e.strerror}. "
                    "Another run (or another process given --process_id 0) holds it; "
                    "choose a free port in --coordinator_address"
                ) from e
        return
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, timeout)):
                return
        except OSError as e:
            last_error = e
            time.sleep(_PROBE_INTERVAL_S)
    raise DistributedError(
        f"process {plan.process_id} of {plan.num_processes} could not reach the coordinator at "
        f"{plan.coordinator_address} within {timeout} s ({last_error}): start process 0 on that "
        "host, or fix --coordinator_address / JAX_COORDINATOR_ADDRESS (raise --join_timeout "
        "when processes start far apart)"
    )


# --- agreement --------------------------------------------------------------------------------


def check_agreement(values: Mapping[str, Any], what: str) -> None:
    """Every process must hold the same `values`; otherwise all of them raise, naming the
    settings that differ and each process's value (a run on mixed settings would train on
    batches no single setting describes)."""
    import jax

    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    texts = {name: json.dumps(value, sort_keys=True, default=str) for name, value in values.items()}
    encoded = np.frombuffer(json.dumps(texts, sort_keys=True).encode(), dtype=np.uint8)
    lengths = np.asarray(multihost_utils.process_allgather(np.array([encoded.size], np.int32)))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[: encoded.size] = encoded
    gathered = np.asarray(multihost_utils.process_allgather(padded))
    per_process = [
        json.loads(bytes(row[: int(n)]).decode())
        for row, n in zip(gathered, lengths.ravel(), strict=True)
    ]
    differ = [name for name in texts if len({p.get(name) for p in per_process}) > 1]
    if differ:
        lines = [
            f"  {name}: "
            + ", ".join(f"process {i} {p.get(name)}" for i, p in enumerate(per_process))
            for name in differ
        ]
        raise DistributedError(
            f"the processes of this run disagree on {what}; give every process the same "
            "settings and data:\n" + "\n".join(lines)
        )


def broadcast_token() -> int:
    """A number every process agrees on (process 0's pid): names temporaries they share."""
    import jax

    if jax.process_count() == 1:
        return os.getpid()
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(os.getpid())))


def barrier(name: str) -> None:
    """Wait until every process reaches `name` (a no-op for one process)."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def is_lost_peer(error: BaseException) -> bool:
    """True for a runtime error that means another process of the run went away."""
    import jax

    if jax.process_count() == 1 or not isinstance(error, RuntimeError | ValueError):
        return False
    text = str(error).lower()
    return any(marker in text for marker in _LOST_PEER_MARKERS)


def lost_peer_error(error: BaseException, during: str) -> PeerLostError:
    """The error that names who is gone: with two processes, the other one."""
    import jax

    me, count = jax.process_index(), jax.process_count()
    others = [i for i in range(count) if i != me]
    who = f"process {others[0]}" if len(others) == 1 else f"one of processes {others}"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # XLA repeats its dispatch prefix once per queued computation; the cause is at the end.
    first_line = _DISPATCH_PREFIX.sub("", first_line)
    return PeerLostError(
        f"lost {who} of this {count}-process run during {during} (this is process {me}): "
        f"{first_line}. The last complete checkpoint in the run folder is intact; restart "
        "every process with --resume auto"
    )
