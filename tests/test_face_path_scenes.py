"""Scenes v2 of the face-detection benchmark (`benchmarks.face_path.scenes`, `conditions`) and
the benchmark's tallies and tables (`benchmarks.face_path.report`): synthetic photographs and
faces here; the real photographs and the FERPlus faces where they are installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks.face_path import conditions as fc
from benchmarks.face_path import run as bench_face_path
from benchmarks.face_path.frames import SKIN_TONES_BGR, paste_face
from benchmarks.face_path.report import (
    FaceResult,
    Tally,
    condition_table,
    recall_by,
    size_bucket,
    size_table,
    smile_f1,
)
from benchmarks.face_path.scenes import (
    COLLAGE,
    KINDS,
    PHOTO_FACE,
    PHOTO_FILES,
    REAL_FACES,
    SCENES_VERSION,
    SIZE_BUCKETS,
    SPLITS,
    SceneFrame,
    compose_scenes,
    scene_photos,
    split_faces,
)
from hsc_infer import ModelContract
from hsc_infer.detectors import Detection

TONE = np.asarray(SKIN_TONES_BGR[0], np.float32)


def fake_photos(split: str) -> dict[str, np.ndarray]:
    """Random photographs under the split's names; the face photographs at their real sizes so
    that their face boxes fit."""
    rng = np.random.default_rng(len(split))
    sizes = {"astronaut": (512, 512), "grace_hopper": (600, 512)}
    names = (*SPLITS[split].backgrounds, SPLITS[split].face_photo)
    return {
        name: rng.integers(0, 256, (*sizes.get(name, (300, 400)), 3), dtype=np.uint8)
        for name in names
    }


def numbered_faces(count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Faces that carry their own index (pixel [0, 0]) and a face-like gradient."""
    faces = []
    for i in range(count):
        face = np.tile(np.linspace(40, 220, 48, dtype=np.uint8), (48, 1))
        face[0, 0] = i
        faces.append(np.dstack([face] * 3))
    return faces, np.arange(count) % 3 == 0


def frames_of(split: str, count: int = 60, seed: int = 0) -> list[SceneFrame]:
    faces, labels = split_faces(*numbered_faces(256), split)
    return compose_scenes(faces, labels, fake_photos(split), split, count, seed=seed)


def test_frames_are_the_same_for_a_seed_and_differ_across_seeds():
    first, again, other = frames_of("dev"), frames_of("dev"), frames_of("dev", seed=1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        assert (a.boxes, a.conditions, a.smiling, a.photos) == (b.boxes, b.conditions,
                                                                 b.smiling, b.photos)  # fmt: skip
    assert any(a.boxes != b.boxes for a, b in zip(first, other, strict=True))
    # One seed, one layout for both splits: only the photographs and faces differ.
    held = frames_of("heldout")
    assert [(f.boxes, f.conditions) for f in held] == [(f.boxes, f.conditions) for f in first]
    assert SCENES_VERSION == "face-scenes-v2"


def test_dev_and_heldout_photographs_are_disjoint_and_each_holds_every_kind():
    dev, held = SPLITS["dev"], SPLITS["heldout"]
    dev_all, held_all = {*dev.backgrounds, dev.face_photo}, {*held.backgrounds, held.face_photo}
    assert not dev_all & held_all
    assert dev_all | held_all == set(PHOTO_FILES)
    for split in (dev, held):
        assert split.face_photo in REAL_FACES and not set(REAL_FACES) & set(split.backgrounds)
        assert {KINDS[name] for name in split.backgrounds} == set(KINDS.values())
    for name, split in SPLITS.items():
        for frame in frames_of(name):
            assert set(frame.photos) <= {*split.backgrounds, split.face_photo}


def test_dev_and_heldout_faces_are_disjoint_halves():
    faces, labels = numbered_faces(101)
    dev, dev_labels = split_faces(faces, labels, "dev")
    held, _ = split_faces(faces, labels, "heldout")
    dev_ids, held_ids = {int(f[0, 0, 0]) for f in dev}, {int(f[0, 0, 0]) for f in held}
    assert len(dev) == 50 and len(held) == 51
    assert not dev_ids & held_ids and dev_ids | held_ids == set(range(101))
    assert list(dev_labels) == [labels[int(f[0, 0, 0])] for f in dev]
    with pytest.raises(ValueError, match="split must be one of"):
        split_faces(faces, labels, "test")
    # The frames of a split paste only its own faces.
    pasted = {
        name: {
            int(c[0, 0, 0])
            for f in frames_of(name)
            for c, k in zip(f.crops, f.conditions, strict=True)
            if k != PHOTO_FACE
        }  # fmt: skip
        for name in SPLITS
    }
    assert pasted["dev"] and pasted["heldout"] and not pasted["dev"] & pasted["heldout"]


def test_every_condition_occurs_in_about_its_share():
    frames = frames_of("heldout", count=300)
    conditions = [c for f in frames for c in f.conditions]
    assert set(conditions) == {*fc.CONDITIONS, PHOTO_FACE}
    pasted = [c for c in conditions if c != PHOTO_FACE]
    assert 0.3 <= pasted.count("frontal") / len(pasted) <= 0.5
    assert 0.12 <= sum(not f.boxes for f in frames) / len(frames) <= 0.28
    assert 0.22 <= sum(f.background == COLLAGE for f in frames) / len(frames) <= 0.38
    assert 0.05 <= sum(PHOTO_FACE in f.conditions for f in frames) / len(frames) <= 0.15


def test_true_boxes_are_squares_inside_the_frame_at_60_to_240_px():
    for frame in frames_of("dev", count=200):
        assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
        assert len(frame.boxes) == len(frame.smiling) == len(frame.crops) == len(frame.conditions)
        for x1, y1, x2, y2 in frame.boxes:
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
            assert x2 - x1 == y2 - y1
            assert SIZE_BUCKETS[0][0] <= x2 - x1 <= SIZE_BUCKETS[-1][1]


def changed(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    """The box (x1, y1, x2, y2) around the pixels that differ."""
    ys, xs = np.nonzero(np.any(before != after, axis=2))
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def paste(condition: fc.Condition, box=(100, 80, 300, 280)) -> tuple[np.ndarray, np.ndarray]:
    scene = np.full((480, 640, 3), 30, np.uint8)
    frame = scene.copy()
    face = np.full((48, 48), 220, np.uint8)
    fc.paste_with_condition(frame, scene, face, box, TONE, condition)
    return scene, frame


def test_a_frontal_face_is_pasted_as_v1_pastes_it():
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    face = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    ours, v1 = scene.copy(), scene.copy()
    fc.paste_with_condition(ours, scene, face, (50, 60, 187, 197), TONE, fc.Condition("frontal"))
    paste_face(v1, face, (50, 60, 187, 197), TONE)
    np.testing.assert_array_equal(ours, v1)


@pytest.mark.parametrize("degrees", [30.0, -30.0])
def test_a_yawed_face_narrows_inside_its_square_box(degrees):
    scene, frame = paste(fc.Condition("yawed", degrees=degrees))
    x1, y1, x2, y2 = changed(scene, frame)
    width = round(200 * np.cos(np.radians(30)))  # 173 of 200 px
    assert x1 >= 100 and x2 <= 300 and y1 >= 80 and y2 <= 280
    assert abs((x2 - x1) - width) <= 3 and abs((x1 + x2) / 2 - 200) <= 2
    # The far side is the shorter one: + turns the right side away.
    left, right = frame[:, x1 + 2] != 30, frame[:, x2 - 3] != 30
    far, near = (right, left) if degrees > 0 else (left, right)
    assert far.any(axis=1).sum() < near.any(axis=1).sum() - 20


def test_a_rolled_face_keeps_the_unrotated_square_on_its_centre():
    scene, frame = paste(fc.Condition("rolled", degrees=20.0))
    x1, y1, x2, y2 = changed(scene, frame)
    # The rotated square reaches beyond the box, evenly around the same centre.
    assert x1 < 100 and x2 > 300 and y1 < 80 and y2 > 280
    assert abs((x1 + x2) / 2 - 200) <= 1 and abs((y1 + y2) / 2 - 180) <= 1
    need = 200 * (np.cos(np.radians(20)) + np.sin(np.radians(20)))  # 256 px
    assert need - 6 <= x2 - x1 <= fc.roll_footprint(200, 20.0)
    # In the frames, a rolled face's footprint (at least the least roll's) fits the frame.
    for frame in frames_of("dev", count=200):
        for (bx1, by1, bx2, by2), condition in zip(frame.boxes, frame.conditions, strict=True):
            pad = (fc.roll_footprint(bx2 - bx1, fc.ROLL_DEGREES[0]) - (bx2 - bx1)) // 2
            if condition == "rolled":
                assert bx1 - pad >= 0 and by1 - pad >= 0 and bx2 + pad <= 640 and by2 + pad <= 480


def test_occluders_cover_their_share_and_never_both_eyes():
    rng = np.random.default_rng(0)
    draws = [fc.draw_condition(rng) for _ in range(2000)]
    occluded = [c for c in draws if c.name == "occluded"]
    assert {c.occluder_side for c in occluded} == set(fc.OCCLUDER_SIDES)
    assert {c.occluder for c in occluded} == set(fc.OCCLUDERS)
    for condition in occluded:
        # Eyes sit at 0.3 and 0.7 of the width, at 0.38 of the height (the mean FERPlus face).
        top = condition.occluder_side == "top"
        assert 0.15 <= condition.occluded_share <= (0.25 if top else 0.35)
    scene, frame = paste(
        fc.Condition(
            "occluded",
            occluder_side="left",
            occluded_share=0.3,
            occluder="dark",
            occluder_level=20.0,
        )  # fmt: skip
    )
    assert np.all(frame[80:280, 100:160] == 20) and not np.all(frame[80:280, 160:300] == 20)


def test_light_runs_from_the_ratio_to_full_brightness():
    layer = fc.FaceLayer(np.full((100, 100, 3), 200, np.float32), np.ones((100, 100, 1)))
    lit = fc.light(layer, ratio=0.5, angle=0.0, gain=1.0).colour[..., 0]
    assert lit[50, 0] == pytest.approx(100, abs=2) and lit[50, 99] == pytest.approx(200, abs=2)
    assert fc.light(layer, 1.0, 0.0, 0.6).colour.max() == pytest.approx(120)


def test_size_buckets_and_recall_on_a_hand_made_example():
    assert [size_bucket(s) for s in (59, 60, 89, 90, 129, 130, 179, 180, 239, 240, 241)] == [
        "other", "60-90", "60-90", "90-130", "90-130", "130-180", "130-180", "180-240",
        "180-240", "180-240", "other",
    ]  # fmt: skip
    results = [
        FaceResult(64, "frontal", True, True, True),  # found, smiling, said smiling
        FaceResult(80, "yawed", False, False, None),  # missed
        FaceResult(100, "rolled", True, True, False),  # found, smiling, said not
        FaceResult(200, "frontal", False, True, False),  # found, not smiling, said not
        FaceResult(240, "occluded", True, False, None),  # missed smile
    ]
    assert recall_by(results, lambda r: size_bucket(r.side)) == {
        "60-90": (1, 2), "90-130": (1, 1), "180-240": (1, 2),
    }  # fmt: skip
    assert recall_by(results, lambda r: r.condition)["frontal"] == (2, 2)
    f1 = smile_f1(results)
    # Found faces: labels T, T, F; said T, F, F -> one true positive: 2 * 1 / (1 + 2).
    assert f1.found == pytest.approx(2 / 3)
    # Every face, a miss = not smiling: labels T, F, T, F, T; said T, F, F, F, F -> 2 / (1 + 3).
    assert f1.all_faces == pytest.approx(0.5)
    # Direct, every face: said T, F, T, T, F -> two true positives: 4 / (3 + 3).
    assert f1.direct_all == pytest.approx(2 / 3)


class BrightIsSmiling:
    """A stand-in classifier: a crop smiles when bright."""

    contract = ModelContract(input_size=(48, 48), crop_kind="face")
    threshold = 0.5

    def predict(self, crops):
        return np.array([float(c.mean() > 128) for c in crops])


def test_the_tally_counts_per_face_and_per_background():
    image = np.zeros((480, 640, 3), np.uint8)
    image[100:200, 100:200] = 250  # a bright (smiling) face, found
    frame = SceneFrame(
        image,
        ((100, 100, 200, 200), (300, 100, 470, 270)),
        (True, False),
        (image[100:200, 100:200], image[100:270, 300:470]),
        COLLAGE,
        conditions=("yawed", "occluded"),
        photos=("brick", "moon"),
    )
    hit = Detection(box=(102, 98, 204, 200), score=0.9, kind="face")
    stray = Detection(box=(500, 400, 560, 460), score=0.7, kind="face")
    tally = Tally()
    tally.add(frame, [hit, stray], 12.0, BrightIsSmiling(), [True, False])
    assert (tally.found, tally.faces, tally.false_boxes) == (1, 2, 1)
    assert tally.false_by_background == {COLLAGE: 1}
    assert tally.results == [
        FaceResult(100, "yawed", True, True, True),
        FaceResult(170, "occluded", False, False, None),
    ]
    sizes, conditions = size_table({"s": tally}), condition_table({"s": tally})
    assert "| setting | 90-130 | 130-180 | all |" in sizes and "| faces | 1 | 1 | 2 |" in sizes
    assert "| s | 100.0% | 0.0% | 50.0% |" in sizes
    assert "| setting | yawed | occluded | all |" in conditions
    assert "| s | 100.0% | 0.0% | 50.0% |" in conditions


def test_split_is_refused_with_v1_scenes(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["run.py", "--split", "heldout"])
    with pytest.raises(SystemExit) as exited:
        bench_face_path.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().endswith("error: --split goes with --scenes v2")


def test_the_real_photographs_load_for_both_splits():
    for split in SPLITS:
        photos = scene_photos(split)
        for name, photo in photos.items():
            assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
        face = SPLITS[split].face_photo
        x1, y1, x2, y2 = REAL_FACES[face].box
        assert x2 - x1 == y2 - y1 and x2 <= photos[face].shape[1] and y2 <= photos[face].shape[0]


@pytest.mark.shared
def test_heldout_frames_from_the_ferplus_faces():
    if not bench_face_path.FERPLUS.exists():
        pytest.skip(f"FERPlus is not available at {bench_face_path.FERPLUS}")
    frames = bench_face_path.scene_frames(bench_face_path.FERPLUS, 20, 0, "heldout")
    again = bench_face_path.scene_frames(bench_face_path.FERPLUS, 20, 0, "heldout")
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, again, strict=True))
    assert sum(len(f.boxes) for f in frames) > 10
