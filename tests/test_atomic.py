"""Atomic writes: a target appears whole or not at all, and a failed write leaves nothing."""

from __future__ import annotations

import pytest

from hsc_jax import atomic


def test_write_text_replaces_a_file_whole(tmp_path):
    target = tmp_path / "sub" / "history.json"
    atomic.write_text(target, "first")
    atomic.write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["history.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "data.parquet"
    target.write_text("old")
    with pytest.raises(ZeroDivisionError), atomic.atomic_path(target) as temporary:
        temporary.write_text("half")
        raise ZeroDivisionError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def test_a_folder_is_swapped_in_over_an_existing_one(tmp_path):
    target = tmp_path / "hsc_epoch_0001"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic.atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "meta.json").write_text("{}")
    assert sorted(p.name for p in target.iterdir()) == ["meta.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["hsc_epoch_0001"]


def test_files_follow_the_umask(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        path = atomic.write_bytes(tmp_path / "model.onnx", b"\x00")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_are_recognised_and_removed(tmp_path):
    (tmp_path / "hsc_epoch_0002.tmp-123").mkdir()
    (tmp_path / "summary.json.tmp-9").write_text("{")
    (tmp_path / "hsc_epoch_0001").mkdir()
    removed = atomic.remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == ["hsc_epoch_0002.tmp-123", "summary.json.tmp-9"]
    assert [p.name for p in tmp_path.iterdir()] == ["hsc_epoch_0001"]
