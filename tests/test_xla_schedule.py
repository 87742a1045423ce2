"""XLA's CPU programs ordered for memory: the flag, and what it does to the train step."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import child_environment

from hsc_jax.xla_schedule import (
    SCHEDULER_OPTION,
    cpu_program_order,
    order_cpu_programs,
    ordered_flags,
)

OPTION = SCHEDULER_OPTION

# The step `hsc-jax train` runs (P at batch 32), compiled in a fresh process under the order given
# on the command line: its temporaries in bytes.
STEP_TEMPORARIES = """
import sys
from hsc_jax.xla_schedule import order_cpu_programs
order_cpu_programs(sys.argv[1])
from benchmarks.training.memory import step_memory
print(step_memory("p", 32, "auto", top=1)["temp_mb"])
"""


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env or child_environment(XLA_FLAGS=""),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_flags_ask_for_the_order_and_keep_the_users_own_setting() -> None:
    assert ordered_flags("", "memory") == f"--{OPTION}=false"
    assert ordered_flags("--xla_dump_to=/tmp/x", "concurrency") == (
        f"--xla_dump_to=/tmp/x --{OPTION}=true"
    )
    assert ordered_flags(f"--{OPTION}=true", "memory") == f"--{OPTION}=true"
    with pytest.raises(ValueError, match="order must be one of"):
        ordered_flags("", "fastest")

    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert cpu_program_order(environ) == "concurrency"
    order_cpu_programs("memory", environ)
    assert environ["XLA_FLAGS"].split() == [
        "--xla_force_host_platform_device_count=2",
        f"--{OPTION}=false",
    ]
    assert cpu_program_order(environ) == "memory"
    assert cpu_program_order({"XLA_FLAGS": f"--{OPTION}=0"}) == "memory"
    assert cpu_program_order({"XLA_FLAGS": f"--{OPTION}=true"}) == "concurrency"


@pytest.mark.slow  # two fresh processes, each compiling a train step
def test_the_memory_order_needs_far_fewer_temporaries_for_the_train_step() -> None:
    memory = float(_run(STEP_TEMPORARIES, "memory"))
    concurrency = float(_run(STEP_TEMPORARIES, "concurrency"))
    assert memory < 0.75 * concurrency, (memory, concurrency)


def test_the_command_line_asks_for_the_memory_order_before_it_runs() -> None:
    code = (
        "import os\nimport hsc_jax.cli as cli\n"
        "cli.main = lambda: print(os.environ['XLA_FLAGS'])\ncli.run()"
    )
    environ = child_environment(XLA_FLAGS="", HSC_JAX_SYSTEM_MALLOC="1")
    assert _run(code, env=environ) == f"--{OPTION}=false"
    environ["XLA_FLAGS"] = f"--{OPTION}=true"
    assert _run(code, env=environ) == f"--{OPTION}=true"
