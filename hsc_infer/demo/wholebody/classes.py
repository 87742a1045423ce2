"""The 34 classes of DEIMv2 "wholebody34": what each is, which threshold gates it, its colour.

Colours are BGR, as OpenCV takes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["object", "attribute", "keypoint"]
Gate = Literal["object", "attribute", "keypoint"]

BODY, HEAD, FACE, HAND = 0, 7, 16, 26

RED = (0, 0, 255)
GREEN = (0, 255, 0)
BLUE = (255, 0, 0)
AMBER = (0, 200, 255)
WHITE = (255, 255, 255)
SMILING = (0, 210, 0)
# A head whose pose is unknown: neutral, so it is not mistaken for a pose.
UNKNOWN_POSE = (160, 160, 160)


@dataclass(frozen=True, slots=True)
class WholeBodyClass:
    name: str
    role: Role
    colour: tuple[int, int, int] | None  # None: never drawn itself (attributes)
    base: int | None = None  # the class an attribute attaches to
    attribute: str | None = None  # "generation", "gender", "head_pose" or "handedness"
    value: int | None = None  # the attribute's value

    @property
    def gate(self) -> Gate:
        return self.role


def _attr(name: str, base: int, attribute: str, value: int) -> WholeBodyClass:
    return WholeBodyClass(name, "attribute", None, base, attribute, value)


POSE_NAMES = (
    "Front",
    "Right-Front",
    "Right-Side",
    "Right-Back",
    "Back",
    "Left-Back",
    "Left-Side",
    "Left-Front",
)
# Material Design colours: the reference passed these RGB triples to OpenCV unchanged, so Front
# showed blue instead of deep orange; here they are BGR.
POSE_COLOURS = tuple(
    (b, g, r)
    for r, g, b in (
        (216, 67, 21),
        (255, 87, 34),
        (123, 31, 162),
        (255, 193, 7),
        (76, 175, 80),
        (33, 150, 243),
        (156, 39, 176),
        (0, 188, 212),
    )
)

CLASSES: tuple[WholeBodyClass, ...] = (
    WholeBodyClass("body", "object", RED),
    _attr("adult", BODY, "generation", 0),
    _attr("child", BODY, "generation", 1),
    _attr("male", BODY, "gender", 0),
    _attr("female", BODY, "gender", 1),
    WholeBodyClass("body with wheelchair", "object", AMBER),
    WholeBodyClass("body with crutches", "object", (83, 36, 179)),
    WholeBodyClass("head", "object", RED),
    *(_attr(f"head pose {name}", HEAD, "head_pose", i) for i, name in enumerate(POSE_NAMES)),
    WholeBodyClass("face", "object", AMBER),
    WholeBodyClass("eye", "object", BLUE),
    WholeBodyClass("nose", "object", GREEN),
    WholeBodyClass("mouth", "object", BLUE),
    WholeBodyClass("ear", "object", (203, 192, 255)),
    WholeBodyClass("collarbone", "keypoint", RED),
    WholeBodyClass("shoulder", "keypoint", BLUE),
    WholeBodyClass("solar plexus", "keypoint", (252, 189, 107)),
    WholeBodyClass("elbow", "keypoint", GREEN),
    WholeBodyClass("wrist", "keypoint", RED),
    WholeBodyClass("hand", "object", GREEN),
    _attr("left hand", HAND, "handedness", 0),
    _attr("right hand", HAND, "handedness", 1),
    WholeBodyClass("abdomen", "keypoint", RED),
    WholeBodyClass("hip joint", "keypoint", BLUE),
    WholeBodyClass("knee", "keypoint", RED),
    WholeBodyClass("ankle", "keypoint", BLUE),
    WholeBodyClass("foot", "object", (250, 0, 136)),
)
assert len(CLASSES) == 34

CLASS_NAMES = tuple(c.name for c in CLASSES)
KEYPOINT_IDS = tuple(i for i, c in enumerate(CLASSES) if c.role == "keypoint")
ATTRIBUTE_IDS = tuple(i for i, c in enumerate(CLASSES) if c.role == "attribute")
# The merges, in the reference's order; each can be switched off on its own.
ATTRIBUTES = ("generation", "gender", "head_pose", "handedness")

GENERATION_NAMES = ("Adult", "Child")
GENDER_LETTERS = ("M", "F")
GENDER_COLOURS = (BLUE, (139, 116, 225))  # male, female
HANDEDNESS_LETTERS = ("L", "R")

# Bones, parent -> child, with how many children of that class one parent may take.
BONES: tuple[tuple[int, int, int], ...] = (
    (21, 22, 2),  # collarbone -> both shoulders
    (21, 23, 1),  # collarbone -> solar plexus
    (22, 24, 1),  # shoulder -> elbow
    (22, 30, 1),  # shoulder -> hip joint
    (24, 25, 1),  # elbow -> wrist
    (23, 29, 1),  # solar plexus -> abdomen
    (29, 30, 2),  # abdomen -> both hip joints
    (30, 31, 1),  # hip joint -> knee
    (31, 32, 1),  # knee -> ankle
)
BONE_COLOUR = (0, 255, 255)
