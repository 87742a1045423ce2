"""Camera clips for the confirmation benchmark: noise and shake, the same for the same seed."""

from __future__ import annotations

import numpy as np

from benchmarks.face_path.clips import CAMERA_STREAM, MAX_SHAKE, camera_clip, shake_offsets

SEGMENTS, FRAMES = 2, 6


def synthetic_inputs():
    """Two photographs under benchmark names and a few random faces: no scikit-image needed."""
    rng = np.random.default_rng(5)
    photos = {n: rng.integers(0, 255, (300, 400, 3), dtype=np.uint8) for n in ("brick", "coins")}
    faces = [rng.integers(0, 255, (48, 48, 3), dtype=np.uint8) for _ in range(4)]
    return faces, np.array([True, False, True, False]), photos


def clip(seed: int, **kw):
    faces, labels, photos = synthetic_inputs()
    return list(camera_clip(faces, labels, photos, SEGMENTS, FRAMES, seed=seed, **kw))


def test_same_seed_same_clip():
    first, again, other = clip(0), clip(0), clip(1)
    assert len(first) == SEGMENTS * FRAMES
    for (a, ta), (b, tb) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
        assert ta == tb
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(first, other, strict=True))


def test_no_two_frames_alike():
    # The first segment holds no face: its background stays put, the camera does not.
    frames = [f for f, _ in clip(0)[:FRAMES]]
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))
    still = [f for f, _ in clip(0, noise_sigma=0, shake=False)[:FRAMES]]
    assert all(np.array_equal(still[0], f) for f in still)


def test_noise_only_keeps_the_boxes():
    plain, noisy = clip(0, noise_sigma=0, shake=False), clip(0, shake=False)
    for (a, ta), (b, tb) in zip(plain, noisy, strict=True):
        assert ta == tb
        assert 1 < np.abs(a.astype(float) - b).mean() < 4  # sigma 3, clipped at 0 and 255


def test_boxes_move_with_the_frame():
    plain, shaken = clip(0, noise_sigma=0, shake=False), clip(0, noise_sigma=0)
    offsets = shake_offsets(SEGMENTS * FRAMES, np.random.default_rng([0, CAMERA_STREAM]))
    for offset, (_, ta), (_, tb) in zip(offsets, plain, shaken, strict=True):
        dx, dy = (int(round(v)) for v in offset)
        for (x1, y1, x2, y2), moved in zip(ta.boxes, tb.boxes, strict=True):
            assert moved == (max(0, x1 + dx), max(0, y1 + dy), min(640, x2 + dx), min(480, y2 + dy))


def test_shake_is_small_and_smooth():
    offsets = shake_offsets(5000, np.random.default_rng(0))
    assert np.abs(offsets).max() <= MAX_SHAKE
    assert 1.5 < offsets.std() < 4
    assert np.abs(np.diff(offsets, axis=0)).mean() < 0.6  # px per frame


def test_benchmark_scores_what_is_shown():
    from benchmarks.face_path.clips import ClipTruth
    from benchmarks.face_path.run_clips import Setting, Tally
    from hsc_infer.demo.pipeline import FrameResult, HeadResult
    from hsc_infer.detectors import Detection

    def result(*heads):
        return FrameResult(
            tuple(
                HeadResult(Detection(box, 0.9, kind="face"), box, 0.9, True, i, "")
                for i, box in heads
            ),
            0.0,
            0.0,
        )

    face, elsewhere = (10, 10, 70, 70), (200, 200, 240, 240)
    truth = ClipTruth((face,), (True,))
    tally = Tally()
    shown = [result(), result(), result((1, face), (2, elsewhere)), result((1, face))]
    for index, frame in enumerate(shown):
        tally.add((0,), (0, 0), index, frame, truth)
    assert (tally.faces, tally.found, tally.false_boxes, tally.correct) == (4, 2, 1, 2)
    row = tally.row(Setting(0.5, 1, 2, 0, 1))
    # recall 50 %, 0.25 false boxes a frame, none of them a face's track, one false track,
    # the face first shown 2 frames late.
    assert "| 50.0% | 0.250 | 0.000 | 1 | 2 / 2 | 0 |" in row
