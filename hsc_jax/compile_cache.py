"""JAX's persistent compilation cache for hsc-jax, and what compiling a step costs.

Every `hsc-jax` command is a new process, so without a persistent cache each run compiles its
steps again: seconds on a CPU, up to minutes for a large model on a GPU, which dominates short
runs. JAX keys each entry by the lowered program, the compile options, the devices, the backend
and the jax/jaxlib versions, so a changed setting, model or version compiles afresh instead of
loading a stale executable; deleting the folder is always safe.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "HSC_JAX_CACHE_DIR"
# Recorded by JAX each time an executable is loaded from the persistent cache.
_HIT_EVENT = "/jax/compilation_cache/cache_hits"

log = logging.getLogger("hsc_jax.compile_cache")


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$HSC_JAX_CACHE_DIR, else $XDG_CACHE_HOME/hsc-jax/jax-compilation, else
    ~/.cache/hsc-jax/jax-compilation."""
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_DIR_ENV):
        return Path(environ[CACHE_DIR_ENV]).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "hsc-jax" / "jax-compilation"


def active_cache_dir() -> Path | None:
    """The folder JAX's persistent compilation cache uses in this process; None when off."""
    import jax

    path = jax.config.jax_compilation_cache_dir
    if not path or not jax.config.jax_enable_compilation_cache:
        return None
    return Path(path)


def enable_compile_cache(cache_dir: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in `cache_dir` (default `default_cache_dir()`)
    and return the folder in use, or None when the cache stays off.

    A cache folder chosen already (JAX_COMPILATION_CACHE_DIR, `jax.config`) is kept as it is.
    Every compile is cached, however quick, so the train and eval steps of a small model are
    too. A folder that cannot be created or written costs a warning, not the run. Call it before
    the first compile that should use the cache.
    """
    import jax

    if jax.config.jax_compilation_cache_dir:
        return active_cache_dir()
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # mkdir succeeds on an existing read-only folder; only a write proves JAX can add entries.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as e:
        log.warning("compilation cache off: cannot write %s (%s)", folder, e.strerror or e)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


@dataclass(frozen=True)
class CompileTiming:
    """How long tracing, lowering and compiling one jitted function took, and whether its
    executable came from the persistent cache ("hit"), was compiled ("miss"), or the cache is
    off ("off")."""

    seconds: float
    cache: str


def compile_ahead(jitted: Any, *args: Any) -> CompileTiming:
    """Compile `jitted` (a `jax.jit` function) for these arguments before its first call, timed.

    `args` are arrays with the shapes, dtypes and shardings of the real calls (Python scalars
    where those pass Python scalars); jit keeps the executable, so the first real call runs it
    without compiling again.
    """
    import jax

    hits: list[str] = []

    def listen(event: str, **_: Any) -> None:
        if event == _HIT_EVENT:
            hits.append(event)

    jax.monitoring.register_event_listener(listen)
    start = time.perf_counter()
    try:
        jitted.lower(*args).compile()
    finally:
        jax.monitoring.unregister_event_listener(listen)
    seconds = time.perf_counter() - start
    cache = "off" if active_cache_dir() is None else "hit" if hits else "miss"
    return CompileTiming(seconds, cache)
