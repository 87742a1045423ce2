"""The malloc settings `hsc-jax` restarts itself under, and the page faults they save."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from hsc_jax.allocator import OPT_OUT, TUNABLES, parse_tunables, tuned_environment

glibc_only = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
    reason="the settings are glibc's; other C libraries run unchanged",
)


def transparent_huge_pages() -> str:
    """The kernel's transparent huge page mode (always, madvise or never; "unknown" without)."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "unknown"
    chosen = [word for word in text.split() if word.startswith("[")]
    return chosen[0].strip("[]") if chosen else "unknown"


# glibc's hugetlb=1 asks for huge pages with madvise: only under the madvise mode does that
# setting alone decide. Under "always" every malloc gets them, under "never" none does.
madvise_mode = pytest.mark.skipif(
    transparent_huge_pages() != "madvise",
    reason=f"transparent huge pages are '{transparent_huge_pages()}' here, not 'madvise', so the "
    "malloc setting does not decide the page size",
)

# Page faults per call of a jitted step whose 128 MB result is freed after each call.
FAULTS_PER_STEP = """
import resource
from hsc_jax.allocator import restart_with_tuned_malloc
restart_with_tuned_malloc()
import jax, jax.numpy as jnp
step = jax.jit(lambda x: x + 1.0)
x = jnp.zeros(1 << 25, jnp.float32)
step(x).block_until_ready()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step(x).block_until_ready()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4)
"""


def _environment(**changes: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", OPT_OUT)}
    return {**environ, **changes}


def _run(code: str, environ: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@glibc_only
def test_settings_are_added_and_the_users_own_are_kept() -> None:
    environ = tuned_environment({"GLIBC_TUNABLES": "glibc.cpu.x=1"})
    assert environ is not None
    tunables = parse_tunables(environ["GLIBC_TUNABLES"])
    assert tunables == {"glibc.cpu.x": "1", **TUNABLES}
    assert tuned_environment(environ) is None  # complete: no second restart
    # The user's own value of a setting wins.
    assert tuned_environment({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}) is None


@glibc_only
def test_opting_out_changes_nothing() -> None:
    assert tuned_environment({OPT_OUT: "1"}) is None
    assert tuned_environment({OPT_OUT: "0"}) is not None


@glibc_only
def test_the_restarted_process_runs_under_the_settings() -> None:
    code = (
        "import os\nfrom hsc_jax.allocator import restart_with_tuned_malloc\n"
        "restart_with_tuned_malloc()\nprint(os.environ['GLIBC_TUNABLES'])"
    )
    assert parse_tunables(_run(code, _environment())) == TUNABLES
    unchanged = code.replace("['GLIBC_TUNABLES']", ".get('GLIBC_TUNABLES', 'unset')")
    assert _run(unchanged, _environment(**{OPT_OUT: "1"})) == "unset"


@glibc_only
@madvise_mode
def test_a_step_faults_its_memory_in_as_huge_pages() -> None:
    tuned = float(_run(FAULTS_PER_STEP, _environment()))
    system = float(_run(FAULTS_PER_STEP, _environment(**{OPT_OUT: "1"})))
    # 128 MB of fresh 4 KB pages is 32,768 faults; of 2 MB pages, 64.
    assert system > 20 * max(tuned, 1.0), (tuned, system)


@glibc_only
def test_the_console_entry_restarts_before_running_click() -> None:
    code = (
        "import os\nimport hsc_jax.cli as cli\n"
        "cli.main = lambda: print(os.environ.get('GLIBC_TUNABLES', 'unset'))\ncli.run()"
    )
    assert parse_tunables(_run(code, _environment())) == TUNABLES
