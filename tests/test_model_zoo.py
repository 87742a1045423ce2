"""The models shipped inside hsc_infer: they load by name (S with no argument at all), carry the
contract of their training data, and keep their measured FERPlus scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import build_tiny_classifier

from hsc_infer import SmileClassifier
from hsc_infer.zoo import DEFAULT_MODEL, SHIPPED_MODELS, resolve_model, shipped_model_path
from hsc_jax.metrics import binary_metrics

# Floors a little under the measured leak-free test F1 at each model's threshold
# (docs/model-zoo.md): a retrained model that scores less is a regression.
MIN_TEST_F1 = {"p": 0.81, "s": 0.90}  # measured 0.826 and 0.915


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_models_load_by_name_with_a_grey_face_contract(name):
    path = shipped_model_path(name)
    assert path.is_file(), f"{path} is part of the package"
    clf = SmileClassifier(name)
    assert clf.model_path == path
    contract = clf.contract
    assert contract.input_size == (48, 48)
    assert contract.colour_mode == "grey" and contract.crop_kind == "face"
    assert contract.crop_margin == 0.0
    assert 0.0 < clf.threshold < 1.0
    crops = [np.full((64, 64, 3), 128, np.uint8), np.zeros((30, 50, 3), np.uint8)]
    probs = clf.predict(crops)
    assert probs.shape == (2,) and np.all((probs >= 0) & (probs <= 1))


def test_no_argument_means_the_default_shipped_model():
    assert DEFAULT_MODEL == "s"
    assert SmileClassifier().model_path == shipped_model_path("s")
    assert resolve_model("S") == shipped_model_path("s")


def test_a_users_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build_tiny_classifier(tmp_path / "s")
    assert resolve_model("s") == Path("s")
    with pytest.raises(ValueError, match="no shipped model named 'xl'"):
        shipped_model_path("xl")


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_models_on_the_leak_free_ferplus_test_split(name, ferplus_test_faces):
    faces, labels = ferplus_test_faces
    assert len(faces) == 2904
    clf = SmileClassifier(name)
    f1 = binary_metrics(labels, clf.predict(faces), clf.threshold)["f1"]
    assert f1 >= MIN_TEST_F1[name], f"{name}: test F1 {f1:.3f}"
