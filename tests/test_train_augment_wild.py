"""The wild augmentation alone (against OpenCV where it has a twin) and inside a training run,
and soft targets from annotator votes."""

from __future__ import annotations

import json

import cv2
import jax
import numpy as np
import pandas as pd
import pytest
from fakes import tiny_config, tiny_model_factory

from hsc_jax.data.dataset import load_dataset
from hsc_jax.data.labels import vote_shares
from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.errors import ConfigError
from hsc_jax.train import augment_wild as wild
from hsc_jax.train import loops
from hsc_jax.train.trainer import train


def _faces(count: int = 8, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((count, size, size, 3), dtype=np.float32)


def test_the_wild_augmentation_keeps_shape_range_and_is_seeded():
    x = jax.numpy.asarray(_faces())
    out = wild.augment_wild(x, jax.random.key(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    np.testing.assert_array_equal(out, wild.augment_wild(x, jax.random.key(3)))
    assert not np.allclose(out, wild.augment_wild(x, jax.random.key(4)))


@pytest.mark.parametrize("step", [wild.random_warp, wild.random_resample, wild.random_light])
def test_a_step_changes_only_the_samples_it_applies_to(step):
    x = jax.numpy.asarray(_faces())
    apply = np.arange(len(x)) % 2 == 0
    out = np.asarray(step(x, jax.random.key(0), jax.numpy.asarray(apply)))
    np.testing.assert_allclose(out[~apply], np.asarray(x)[~apply], atol=1e-6)
    assert not np.allclose(out[apply], np.asarray(x)[apply])


@pytest.mark.parametrize("spoilt_share", [wild.SPOILT_SHARE, 0.2, 0.0])
def test_each_sample_gets_at_most_one_kind_and_the_rest_stay_clean(spoilt_share: float):
    x = jax.numpy.asarray(_faces(count=400, size=16))
    out = np.asarray(wild.augment_wild(x, jax.random.key(1), spoilt_share))
    clean = np.all(np.abs(out - np.asarray(x)) < 1e-6, axis=(1, 2, 3))
    # 1 - spoilt_share of 400, give or take sampling noise (and, above it, a relit sample whose
    # three light draws all came out off).
    assert 1 - spoilt_share - 0.1 < clean.mean() < 1 - spoilt_share + 0.15
    if spoilt_share == 0.0:
        np.testing.assert_array_equal(out, np.asarray(x))


def test_every_filter_keeps_a_flat_image_flat():
    rows, cols = wild.resample_bank(48)
    np.testing.assert_array_equal(rows[0], np.eye(48))
    np.testing.assert_allclose(rows.sum(axis=2), 1.0, atol=1e-5)
    np.testing.assert_allclose(cols.sum(axis=2), 1.0, atol=1e-5)


@pytest.mark.parametrize("low", wild.LOW_RESOLUTIONS)
def test_low_resolution_matches_opencv_down_and_up(low: int):
    image = (_faces(1)[0] * 255).astype(np.uint8)
    small = cv2.resize(image, (low, low), interpolation=cv2.INTER_AREA)
    expected = cv2.resize(small, (48, 48), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    matrix = wild._area_down_linear_up(48, low)
    ours = np.einsum("ij,jwc->iwc", matrix, image.astype(np.float32))
    ours = np.einsum("kw,hwc->hkc", matrix, ours)
    # OpenCV rounds to uint8 after each resize: within about two grey levels.
    assert np.abs(ours - expected).max() < 2.5


def test_a_warp_rotates_about_the_centre_as_opencv_does():
    image = _faces(1)[0]
    angle = 15.0
    batch = jax.numpy.asarray(image[None])
    key = jax.random.key(0)
    # Draw with the module's own key use, then rebuild the same warp with OpenCV.
    keys = jax.random.split(key, 5)
    drawn = float(jax.random.uniform(keys[1], (1,), minval=-angle, maxval=angle)[0])
    scale = float(
        np.exp(
            jax.random.uniform(
                keys[2], (1,), minval=np.log(wild.SCALE[0]), maxval=np.log(wild.SCALE[1])
            )[0]
        )
    )
    ty = float(jax.random.uniform(keys[3], (1,), minval=-1.0, maxval=1.0)[0]) * wild.TRANSLATE * 48
    tx = float(jax.random.uniform(keys[4], (1,), minval=-1.0, maxval=1.0)[0]) * wild.TRANSLATE * 48
    original = wild.ROTATION_DEGREES
    try:
        wild.ROTATION_DEGREES = angle
        ours = np.asarray(wild.random_warp(batch, key, jax.numpy.ones(1, bool))[0])
    finally:
        wild.ROTATION_DEGREES = original
    centre = (23.5, 23.5)
    matrix = cv2.getRotationMatrix2D(centre, -drawn, scale)  # OpenCV: counter-clockwise, y down
    matrix[:, 2] += (tx, ty)
    expected = cv2.warpAffine(
        image, matrix, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inner = (slice(8, 40), slice(8, 40))  # border handling differs by a pixel at the edge
    assert np.abs(ours[inner] - expected[inner]).mean() < 0.01


def test_vote_shares_fall_back_to_the_label_where_counts_are_unusable():
    frame = pd.DataFrame(
        {"happiness_votes": [9, 0, 3, None, 5, 12], "total_votes": [10, 10, 0, 10, 10, 10]}
    )
    labels = np.array([1, 0, 1, 0, 1, 1])
    shares = vote_shares(frame, labels)
    np.testing.assert_allclose(shares, [0.9, 0.0, 1.0, 0.0, 0.5, 1.0])
    assert vote_shares(frame.drop(columns="total_votes"), labels) is None


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("data") / "votes.parquet"
    write_synthetic_parquet(path, 120, seed=0)
    frame = pd.read_parquet(path)
    frame["happiness_votes"] = np.where(frame["class_id"] == 1, 8, 1)
    frame["total_votes"] = 10
    frame.to_parquet(path)
    return path


@pytest.mark.slow
def test_a_run_trains_with_wild_augmentation_and_soft_labels(parquet, tmp_path):
    config = tiny_config(parquet, tmp_path / "run", augment="wild", soft_labels=True)
    train(config, model_factory=tiny_model_factory)
    (epoch,) = json.loads((tmp_path / "run" / "history.json").read_text())
    assert np.isfinite(epoch["train"]["loss"])


def test_soft_labels_train_towards_the_vote_shares(parquet, tmp_path):
    split = load_dataset(parquet).splits["train"]
    config = tiny_config(parquet, tmp_path / "run", soft_labels=True)
    targets = loops.training_targets(split, config)
    np.testing.assert_allclose(targets, np.where(split.labels == 1, 0.8, 0.1))
    plain = tiny_config(parquet, tmp_path / "run")
    assert loops.training_targets(split, plain) is split.labels


def test_soft_labels_without_vote_columns_is_an_error_naming_the_flag(tmp_path):
    plain = tmp_path / "plain.parquet"
    write_synthetic_parquet(plain, 60, seed=1)
    config = tiny_config(plain, tmp_path / "run", soft_labels=True)
    with pytest.raises(ConfigError, match="--soft_labels needs happiness_votes"):
        train(config, model_factory=tiny_model_factory)
