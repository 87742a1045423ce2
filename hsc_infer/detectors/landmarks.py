"""Is a detector's 5-point landmark layout one a real face can have?

Landmarks are (x, y) frame pixels in YuNet's order: right eye, left eye (the person's: the right
eye is on the image's left), nose tip, right and left mouth corner. The layout is measured in
the face's own frame (x along the eye line, "down" perpendicular to it), so a tilted face is
judged like an upright one. `benchmarks/face_path/landmarks.py` measures these features on the
face-path benchmark's frames, true faces against false boxes
(docs/face-path-benchmark.md, 2026-12-06).

The bounds are deliberately loose. They were read off seeds 1 and 2 of the benchmark
(1,000 frames, 1,111 true faces among YuNet's candidates at score >= 0.3, near-profile FERPlus
faces and 108 frames of the astronaut photograph among them) with a margin past the most extreme
true face, and checked on seed 0 (553 true faces): no true face failed. What they reject are
layouts no face has: eyes below the mouth, points on a line, a sideways or upside-down
pattern, landmarks far outside the box. YuNet's own false boxes on the benchmark (a motorbike's
headlight, galaxies, a cat's eye) come with face-like landmarks and pass, which is why
`YuNetFaceDetector` leaves the check off by default (`landmark_check=True` turns it on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Tilt of the eye line. True faces on the benchmark: at most 27 degrees; people tilt their heads
# up to about 30 in front of a camera, so 45 leaves room and still rejects sideways layouts
# (an upside-down one, whose eye order flips, reads as about 180).
MAX_ROLL_DEGREES = 45.0
# Angle between the mouth-corner line and the eye line: the two stay near parallel on a face in
# any pose (true faces: at most 23 degrees at score >= 0.5, 31 among weaker candidates).
MAX_MOUTH_TILT_DEGREES = 35.0
# Eye midpoint to mouth midpoint along the face's down axis, in box heights (YuNet's box:
# hairline to below the chin). True faces: 0.27-0.49. Below the minimum: the mouth at the eyes'
# level or above them, or all points on one line (text); above the maximum: a "face" stretched
# past its box.
MIN_EYE_MOUTH_DROP = 0.15
MAX_EYE_MOUTH_DROP = 0.65
# Where the nose tip projects on the eye-midpoint -> mouth-midpoint segment (0: eyes, 1: mouth).
# True faces: 0.38-0.74; looking up or down moves it, so the band is wide.
MIN_NOSE_POSITION = 0.2
MAX_NOSE_POSITION = 0.9
# Mouth width per eye distance. True faces: 0.59-0.97 (the lowest are near-profiles, where the
# far mouth corner hides); a broad laugh stays near one eye distance, so 2 is generous.
MIN_MOUTH_PER_EYES = 0.4
MAX_MOUTH_PER_EYES = 2.0
# Eye distance per box width. True faces: 0.08-0.59 (profiles bring the eyes together, so the
# lower bound only catches a collapsed pair); eyes wider apart than most of the box are no face.
MIN_EYES_PER_WIDTH = 0.04
MAX_EYES_PER_WIDTH = 0.8
# How far a landmark may lie outside the box, per box side. True faces: at most 0.03.
MAX_OUTSIDE_BOX = 0.1


@dataclass(frozen=True, slots=True)
class LandmarkLayout:
    """The features `plausible_face` judges (see the bounds above for what each means)."""

    roll_degrees: float
    mouth_tilt_degrees: float
    eye_mouth_drop: float  # box heights
    nose_position: float  # 0 at the eyes, 1 at the mouth
    mouth_per_eyes: float
    eyes_per_width: float
    outside_box: float  # box sides


def _angle_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Signed angle from vector a to vector b, degrees in (-180, 180]."""
    return math.degrees(math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1]))


def face_layout(
    landmarks: Sequence[Sequence[float]], box: Sequence[float]
) -> LandmarkLayout | None:
    """The layout features of 5 landmarks in `box` (x1, y1, x2, y2), or None where they cannot
    be measured (the eyes on one point, an empty box)."""
    (rex, rey), (lex, ley), (nx, ny), (rmx, rmy), (lmx, lmy) = landmarks
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    eyes = (lex - rex, ley - rey)
    eye_distance = math.hypot(*eyes)
    if eye_distance <= 0 or width <= 0 or height <= 0:
        return None
    down = (-eyes[1] / eye_distance, eyes[0] / eye_distance)  # the eye line turned 90 degrees
    eye_mid = ((rex + lex) / 2, (rey + ley) / 2)
    mouth_mid = ((rmx + lmx) / 2, (rmy + lmy) / 2)
    eye_to_mouth = (mouth_mid[0] - eye_mid[0], mouth_mid[1] - eye_mid[1])
    drop = eye_to_mouth[0] * down[0] + eye_to_mouth[1] * down[1]
    span = eye_to_mouth[0] ** 2 + eye_to_mouth[1] ** 2
    nose = (
        ((nx - eye_mid[0]) * eye_to_mouth[0] + (ny - eye_mid[1]) * eye_to_mouth[1]) / span
        if span > 0
        else math.nan
    )
    mouth = (lmx - rmx, lmy - rmy)
    xs, ys = [p[0] for p in landmarks], [p[1] for p in landmarks]
    outside = max(
        (x1 - min(xs)) / width,
        (max(xs) - x2) / width,
        (y1 - min(ys)) / height,
        (max(ys) - y2) / height,
        0.0,
    )
    return LandmarkLayout(
        roll_degrees=math.degrees(math.atan2(eyes[1], eyes[0])),
        mouth_tilt_degrees=_angle_between(eyes, mouth) if math.hypot(*mouth) > 0 else 0.0,
        eye_mouth_drop=drop / height,
        nose_position=nose,
        mouth_per_eyes=math.hypot(*mouth) / eye_distance,
        eyes_per_width=eye_distance / width,
        outside_box=outside,
    )


def plausible_face(landmarks: Sequence[Sequence[float]], box: Sequence[float]) -> bool:
    """Whether 5 landmarks (YuNet's order) in a detector's `box` (x1, y1, x2, y2, frame pixels)
    are laid out as on a face: frontal to near-profile, tilted up to about 45 degrees."""
    layout = face_layout(landmarks, box)
    if layout is None:
        return False
    return (
        abs(layout.roll_degrees) <= MAX_ROLL_DEGREES
        and abs(layout.mouth_tilt_degrees) <= MAX_MOUTH_TILT_DEGREES
        and MIN_EYE_MOUTH_DROP <= layout.eye_mouth_drop <= MAX_EYE_MOUTH_DROP
        and MIN_NOSE_POSITION <= layout.nose_position <= MAX_NOSE_POSITION
        and MIN_MOUTH_PER_EYES <= layout.mouth_per_eyes <= MAX_MOUTH_PER_EYES
        and MIN_EYES_PER_WIDTH <= layout.eyes_per_width <= MAX_EYES_PER_WIDTH
        and layout.outside_box <= MAX_OUTSIDE_BOX
    )
