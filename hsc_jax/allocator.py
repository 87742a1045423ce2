"""glibc malloc settings that keep a training process's memory, applied by starting it again.

XLA's CPU runtime takes each step's temporaries (over a gigabyte for the S train step at batch
256) from malloc and frees them after the step. Under glibc's defaults the memory goes back to
the kernel every step (blocks over 32 MB are mmap'd and unmapped on free; the heaps of the
worker threads' arenas are unmapped when empty), so each step faults in and zeroes about
1.1 million pages again: on a 2-core AMD EPYC the kernel took 1.9 of the step's 4.4
CPU-seconds doing it. With one arena, big blocks from its heap, no trimming and transparent huge
pages, the memory stays with the process: after the first steps a step takes no page faults at
all (docs/models-benchmark.md). glibc reads these settings only when a process starts, so the
command starts itself once more with them in its environment.

The price is that the process keeps its peak memory until it exits, which a training run holds
anyway. Set HSC_JAX_SYSTEM_MALLOC=1 to run with glibc's defaults; settings already present in
GLIBC_TUNABLES are kept as the user gave them.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

OPT_OUT = "HSC_JAX_SYSTEM_MALLOC"

TUNABLES = {
    # Heap memory gets transparent huge pages (madvise), 512x fewer faults to fill it.
    "glibc.malloc.hugetlb": "1",
    # Big blocks come from the heap, which is reused, not from mmap, which is given back.
    "glibc.malloc.mmap_max": "0",
    # Freed heap memory stays with the process for the next step.
    "glibc.malloc.trim_threshold": str(1 << 40),
    # One arena: other threads' arenas live in heaps that are unmapped as soon as they empty.
    "glibc.malloc.arena_max": "1",
}


def parse_tunables(value: str) -> dict[str, str]:
    """`name=value:name=value` (GLIBC_TUNABLES) -> {name: value}, in order."""
    pairs = (item.split("=", 1) for item in value.split(":") if "=" in item)
    return {name: setting for name, setting in pairs}


def tuned_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """`environ` with TUNABLES merged into GLIBC_TUNABLES, or None when nothing is to change:
    opted out, not Linux with glibc, or every setting already present."""
    if environ.get(OPT_OUT, "") not in ("", "0"):
        return None
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    current = parse_tunables(environ.get("GLIBC_TUNABLES", ""))
    missing = {name: value for name, value in TUNABLES.items() if name not in current}
    if not missing:
        return None
    merged = {**current, **missing}
    tunables = ":".join(f"{name}={value}" for name, value in merged.items())
    return {**environ, "GLIBC_TUNABLES": tunables}


def restart_with_tuned_malloc() -> None:
    """Replace this process by the same command line under TUNABLES, unless it already runs
    under them. Call it first thing, before anything worth keeping has happened."""
    environ = tuned_environment(os.environ)
    if environ is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    # orig_argv keeps the interpreter's own flags and `-m module` / `-c code` as given.
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)


def malloc_setting() -> str:
    """ "tuned" when this process runs under TUNABLES, else "system" (for benchmark headers)."""
    current = parse_tunables(os.environ.get("GLIBC_TUNABLES", ""))
    return "tuned" if all(name in current for name in TUNABLES) else "system"
