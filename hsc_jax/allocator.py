"""A glibc malloc setting for training processes, applied by starting the process again.

XLA's CPU runtime takes each step's temporaries (over 4 GB for the S train step at batch 256)
from malloc and frees them after the step. glibc serves such blocks with fresh mmap'd memory
and unmaps it on free, so every step faults the memory in again, 4 KB at a time: about 1.1
million page faults per S step, which cost the kernel 1.9 of the step's 4.4 CPU-seconds on a
2-core AMD EPYC. With `glibc.malloc.hugetlb=1` glibc asks for transparent huge pages, and the
same memory arrives in about 2,300 faults of 2 MB: the S step runs 1.8x faster on that AMD
EPYC and 1.6x on a 2-core Intel Xeon (docs/models-benchmark.md). Settings that keep the memory
instead (one arena, no mmap, no trimming) were faster still on some steps but let the heap
fragment until the kernel killed the process, so the memory is still handed back after each
step. glibc reads the setting only
when a process starts, so the command starts itself once more with it in its environment.

Set HSC_JAX_SYSTEM_MALLOC=1 to run with glibc's defaults; settings already present in
GLIBC_TUNABLES are kept as the user gave them.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

OPT_OUT = "HSC_JAX_SYSTEM_MALLOC"

TUNABLES = {
    # Big blocks are madvise'd for transparent huge pages: 512x fewer faults to fill them.
    "glibc.malloc.hugetlb": "1",
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
