"""The FERPlus-shift benchmark (`benchmarks.robustness.ferplus_shift`) and its detector_crop
shift (`benchmarks.robustness.detector_crop`): a tiny model and fake detectors here, the shipped
S on FERPlus in the shared test."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import build_tiny_classifier

from benchmarks.face_path.frames import BACKGROUNDS
from benchmarks.robustness import detector_crop
from benchmarks.robustness import ferplus_shift as bench_robustness
from hsc_infer import ModelContract
from hsc_infer.detectors import Detection
from hsc_jax.evaluation.shifts import SCORED_SHIFTS, SHIFT_NAMES, SHIFT_SET_VERSION

FACE_CONTRACT = ModelContract(input_size=(48, 48), crop_kind="face")


def fake_photos() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.integers(0, 256, (300, 400, 3), dtype=np.uint8) for name in BACKGROUNDS}


def faces_and_labels() -> tuple[list[np.ndarray], np.ndarray]:
    """Bright faces smile, dark ones do not: what the tiny model (brighter = smilier) sees."""
    levels = [235, 20, 225, 30, 240, 15, 40, 230]
    faces = [np.full((48, 48, 3), level, np.uint8) for level in levels]
    return faces, np.array([level > 128 for level in levels])


class PastedBoxDetector:
    """A perfect detector: finds exactly the box `pasted_frame` used for each face, in order."""

    def __init__(self, faces, photos):
        self.boxes = [detector_crop.pasted_frame(f, i, photos)[1] for i, f in enumerate(faces)]

    def __call__(self, frame):
        return [Detection(box=self.boxes.pop(0), score=1.0, kind="face")]


def test_each_face_gets_its_own_fixed_frame():
    photos = fake_photos()
    face = np.full((48, 48, 3), 200, np.uint8)
    frame, box = detector_crop.pasted_frame(face, 7, photos)
    again, same_box = detector_crop.pasted_frame(face, 7, photos)
    assert frame.shape == (480, 640, 3) and box == same_box
    np.testing.assert_array_equal(frame, again)
    side = box[2] - box[0]
    assert side == box[3] - box[1] and 60 <= side <= 220
    assert detector_crop.pasted_frame(face, 8, photos)[1] != box


def test_detector_crops_cut_found_faces_and_skip_missed_ones():
    photos = fake_photos()
    faces, _ = faces_and_labels()
    perfect = detector_crop.detector_crops(
        faces, {"m": FACE_CONTRACT}, photos, PastedBoxDetector(faces, photos)
    )
    assert perfect.found.all() and perfect.recall == 1.0 and len(perfect.crops["m"]) == len(faces)
    for index, crop in enumerate(perfect.crops["m"]):
        x1, y1, x2, y2 = detector_crop.pasted_frame(faces[index], index, photos)[1]
        assert crop.shape == (y2 - y1, x2 - x1, 3)

    blind = detector_crop.detector_crops(faces, {"m": FACE_CONTRACT}, photos, lambda f: [])
    assert not blind.found.any() and blind.recall == 0.0 and blind.crops == {"m": []}


def test_a_detection_far_from_the_pasted_face_is_a_miss():
    away = Detection(box=(0, 0, 50, 50), score=1.0, kind="face")
    on = Detection(box=(300, 200, 380, 280), score=0.6, kind="face")
    assert detector_crop.find_pasted([away], (300, 200, 380, 280)) is None
    assert detector_crop.find_pasted([away, on], (302, 198, 382, 278)) is on


def test_the_report_scores_every_shift_and_counts_misses_as_not_smiling(tmp_path, monkeypatch):
    model = build_tiny_classifier(tmp_path / "tiny.onnx", contract=FACE_CONTRACT)
    monkeypatch.setattr(bench_robustness, "skimage_photos", fake_photos)
    monkeypatch.setattr(bench_robustness, "detector", lambda: lambda frame: [])
    faces, labels = faces_and_labels()

    report = bench_robustness.run_benchmark([str(model)], faces, labels)
    assert report["shift_set_version"] == SHIFT_SET_VERSION and report["faces"] == len(faces)
    assert report["detector_crop"] == {"found": 0, "recall": 0.0}
    result = report["models"][str(model)]
    assert list(result["shifts"]) == list(SHIFT_NAMES)
    assert result["shifts"]["identity"]["f1"] == 1.0
    # Every face missed: no smile is found, every non-smile is right.
    missed = result["shifts"]["detector_crop"]
    assert missed["f1"] == 0.0 and missed["accuracy"] == pytest.approx(1 - labels.mean())
    f1s = [result["shifts"][name]["f1"] for name in SCORED_SHIFTS]
    assert result["ferplus_shift_f1"] == pytest.approx(np.mean(f1s))
    assert result["worst_shift"] == "detector_crop" and result["worst_f1"] == 0.0
    table = bench_robustness.markdown(report)
    assert all(f"| {name}" in table for name in SHIFT_NAMES)


@pytest.mark.shared
def test_shipped_s_on_64_ferplus_faces(tmp_path):
    if not bench_robustness.FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {bench_robustness.FERPLUS}")
    output = tmp_path / "shift.json"
    bench_robustness.main(["--limit", "64", "--models", "s", "--output", str(output)])

    report = json.loads(output.read_text())
    assert report["shift_set_version"] == SHIFT_SET_VERSION and report["faces"] == 64
    assert report["machine"]["cpu"] and report["seconds"]["total"] > 0
    assert 0.0 <= report["detector_crop"]["recall"] <= 1.0
    s = report["models"]["s"]
    assert set(s["shifts"]) == set(SHIFT_NAMES) and s["worst_shift"] in SCORED_SHIFTS
    assert s["shifts"]["identity"]["f1"] > 0.5
    assert 0.0 <= s["worst_f1"] <= s["ferplus_shift_f1"] <= 1.0
    assert 0.0 <= s["detector_crop_f1_found"] <= 1.0
    assert len(report["load_average"]["before"]) == 3
    for row in s["shifts"].values():
        assert set(row) == {"f1", "accuracy", "precision", "recall", "roc_auc"}


def test_the_detector_shift_keeps_the_settings_it_was_frozen_with():
    # ferplus-shift-v1's detector_crop figures were taken with YuNet at 448 px without the
    # second look; the demo's defaults moving on must not change them.
    yunet = detector_crop.detector()
    assert (yunet.detect_width, yunet.score_threshold, yunet.min_face) == (448, 0.5, 32)
    assert yunet.second_look is None


def test_models_joined_by_plus_are_scored_as_their_mean(tmp_path):
    low = build_tiny_classifier(tmp_path / "a.onnx", contract=FACE_CONTRACT.with_threshold(0.4))
    high = build_tiny_classifier(tmp_path / "b.onnx", contract=FACE_CONTRACT.with_threshold(0.6))
    teacher = bench_robustness.load_classifier(f"{low}+{high}")
    assert teacher.threshold == pytest.approx(0.5)
    faces, _ = faces_and_labels()
    unlike = [
        SimpleNamespace(
            contract=FACE_CONTRACT,
            threshold=0.5,
            model_path=name,
            flip_test=False,
            predict=lambda crops, probs=probs: np.array(probs),
        )
        for name, probs in (("a", [0.2, 0.9]), ("b", [0.6, 0.3]))
    ]
    mean = bench_robustness.MeanOfClassifiers(unlike).predict(faces[:2])
    np.testing.assert_allclose(mean, [0.4, 0.6])

    head = build_tiny_classifier(tmp_path / "c.onnx", contract=ModelContract(crop_kind="head"))
    with pytest.raises(SystemExit, match="members must crop alike"):
        bench_robustness.load_classifier(f"{low}+{head}")
