"""XLA's CPU backend asked to order each program for memory: the train step needs half the memory.

By default XLA orders the kernels of a compiled CPU program so that independent ones can run side
by side (`xla_cpu_enable_concurrency_optimized_scheduler`). For the train step that order keeps
much of the forward pass's activations alive together with the backward pass's gradients: 4,530
MB of temporaries for S at batch 256. Ordered for memory, the same step needs 2,360 MB (P 1,959 ->
1,084 MB, L 5,439 -> 2,856 MB), faults in half the pages each step and runs as fast or faster
(docs/models-benchmark.md).

XLA takes the setting from XLA_FLAGS once, when JAX starts its CPU backend; as a per-compile
`compiler_options` entry it is accepted and has no effect. So `hsc-jax` writes it into its own
environment before anything has run. A setting of the option already in XLA_FLAGS is kept:
`XLA_FLAGS=--xla_cpu_enable_concurrency_optimized_scheduler=true` restores XLA's default order.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping

SCHEDULER_OPTION = "xla_cpu_enable_concurrency_optimized_scheduler"
ORDER_FLAGS = {
    "memory": f"--{SCHEDULER_OPTION}=false",
    "concurrency": f"--{SCHEDULER_OPTION}=true",
}
_SETTING = re.compile(rf"--{SCHEDULER_OPTION}=(\S*)")


def ordered_flags(xla_flags: str, order: str) -> str:
    """`xla_flags` (XLA_FLAGS) asking for `order` ("memory" or "concurrency"), unless they
    already set the option."""
    if order not in ORDER_FLAGS:
        raise ValueError(f"order must be one of {sorted(ORDER_FLAGS)}, got {order!r}")
    if SCHEDULER_OPTION in xla_flags:
        return xla_flags
    return f"{xla_flags} {ORDER_FLAGS[order]}".strip()


def order_cpu_programs(
    order: str = "memory", environ: MutableMapping[str, str] = os.environ
) -> None:
    """Ask for `order` in `environ`'s XLA_FLAGS. Call it before JAX runs anything: XLA reads its
    flags once."""
    environ["XLA_FLAGS"] = ordered_flags(environ.get("XLA_FLAGS", ""), order)


def cpu_program_order(environ: MutableMapping[str, str] = os.environ) -> str:
    """ "memory" when XLA_FLAGS turns the option off (false or 0, as XLA reads it), else
    "concurrency" (XLA's default)."""
    found = _SETTING.findall(environ.get("XLA_FLAGS", ""))
    return "memory" if found and found[-1].lower() in ("false", "0") else "concurrency"
