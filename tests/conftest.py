"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

FERPLUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ferplus" / "ferplus.parquet"
)


@pytest.fixture(scope="session")
def ferplus_test_faces():
    """(BGR faces, smiling labels) of the leak-free FERPlus test split; skips without ../shared."""
    if not FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {FERPLUS} (../shared/data is absent)")
    from hsc_infer.testing import ferplus_leak_free_test

    return ferplus_leak_free_test(FERPLUS)
