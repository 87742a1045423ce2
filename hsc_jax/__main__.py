"""`python -m hsc_jax`: the `hsc-jax` command line."""

from hsc_jax.entry import run

if __name__ == "__main__":
    run()
