"""Measurement code: what each figure in docs/ and the README comes from.

One sub-package per subject; each runner starts as `python -m benchmarks.<subject>.<name>` from
the project's root, prints the machine it ran on, and ends with one JSON line of its figures.
Benchmarks may import `hsc_jax` and `hsc_infer`; neither imports `benchmarks`, and the wheel
does not ship it. This file imports nothing: the PyTorch reference trainer runs the package
under an interpreter with torch and numpy only.
"""
