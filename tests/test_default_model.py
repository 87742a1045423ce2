"""The model shipped inside hsc_infer: it loads with no arguments and separates real smiles."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hsc_infer import SmileClassifier
from hsc_infer.classifier import DEFAULT_MODEL_PATH

FERPLUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ferplus" / "ferplus.parquet"
)
MIN_TEST_F1 = 0.74  # measured 0.753 at the model threshold; see docs/default-model.md


def test_default_model_ships_with_a_face_crop_contract():
    assert DEFAULT_MODEL_PATH.is_file(), f"{DEFAULT_MODEL_PATH} is part of the package"
    clf = SmileClassifier()
    contract = clf.contract
    assert contract.input_size == (48, 48)
    assert contract.colour_mode == "grey" and contract.crop_kind == "face"
    assert 0.0 < clf.threshold < 1.0
    crops = [np.full((64, 64, 3), 128, np.uint8), np.zeros((30, 50, 3), np.uint8)]
    probs = clf.predict(crops)
    assert probs.shape == (2,) and np.all((probs >= 0) & (probs <= 1))


@pytest.mark.shared
def test_default_model_on_the_leak_free_ferplus_test_split():
    if not FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {FERPLUS} (../shared/data is absent)")
    import pandas as pd

    df = pd.read_parquet(
        FERPLUS, columns=["split", "md5", "label_conflict", "class_id", "image_bytes"]
    )
    train_md5 = set(df.loc[df.split == "train", "md5"])
    test = df[(df.split == "test") & ~df.label_conflict & ~df.md5.isin(train_md5)]
    assert len(test) == 2904
    crops = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in test.image_bytes]
    clf = SmileClassifier()
    smiling = clf.predict(crops) >= clf.threshold
    labels = test.class_id.to_numpy() == 1
    tp = np.sum(smiling & labels)
    f1 = 2 * tp / (smiling.sum() + labels.sum())
    assert f1 >= MIN_TEST_F1, f"test F1 {f1:.3f}"
