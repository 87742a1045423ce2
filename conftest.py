"""pytest's root: its folder goes on sys.path, so the tests import `benchmarks` as the package it
is, whether pytest starts as `python -m pytest` (what `make test` runs) or as plain `pytest`."""
