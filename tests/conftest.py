"""Fixtures shared by several test modules, and the session's JAX compilation cache.

Helpers live beside this file: `from helpers import ...` (tiny ONNX models, synthetic media) and
`from fakes import ...` (a tiny trainer model); pytest puts tests/ on sys.path.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

FERPLUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ferplus" / "ferplus.parquet"
)

# Every trainer test compiles the same small steps: a persistent compilation cache turns the
# repeats (within a run and across runs) into cache hits.
JIT_CACHE = {
    "JAX_COMPILATION_CACHE_DIR": os.path.join(tempfile.gettempdir(), "hsc-jax-test-jit-cache"),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def pytest_configure(config: pytest.Config) -> None:
    use_jit_cache()


def use_jit_cache() -> None:
    """Turn on the persistent compilation cache unless the caller chose a cache folder.

    JAX reads these variables when it is first imported, which happens later, in the test
    modules (so hsc_infer-only runs never import it); subprocesses inherit them. If something
    imported JAX already, its config is set directly: the cache is read at the first compile.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    os.environ.update(JIT_CACHE)
    if "jax" in sys.modules:
        import jax

        jax.config.update("jax_compilation_cache_dir", JIT_CACHE["JAX_COMPILATION_CACHE_DIR"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(scope="session")
def ferplus_test_faces():
    """(BGR uint8 faces, smiling labels) of FERPlus's leak-free test split, as the data layer
    defines it (`load_dataset` leaves out copies of train images and label conflicts: 2,904
    faces); skips without ../shared."""
    if not FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {FERPLUS} (../shared/data is absent)")
    from hsc_jax.data.dataset import load_dataset

    test = load_dataset(FERPLUS).splits["test"]  # (N, 48, 48, 3) RGB, FERPlus's own size
    faces = [image[..., ::-1].copy() for image in test.images]  # BGR, as cv2 reads a file
    return faces, test.labels == 1
