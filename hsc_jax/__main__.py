"""`python -m hsc_jax`: the `hsc-jax` command line."""

from hsc_jax.cli import main

if __name__ == "__main__":
    main()
