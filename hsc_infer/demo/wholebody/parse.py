"""wholebody34 rows -> gated objects with their attributes attached and keypoints thinned.

Rows are `[class_id, x1, y1, x2, y2, score]` with coordinates normalised to [0, 1]. Differences
from the reference, each a fix of one of its oddities:
* every gate is `score >= threshold`, and left/right hand use the attribute threshold like the
  other attributes;
* an attribute goes to the base box it overlaps best (then the higher score, then the nearer
  centre), decided over all pairs at once, so the detector's output order does not matter; the
  centre limit scales with the base box instead of being 10 px at any resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from hsc_infer.demo.wholebody.classes import ATTRIBUTES, CLASSES, KEYPOINT_IDS
from hsc_infer.detectors.base import iou

# An attribute box's centre must lie within this fraction of its base box's diagonal.
ATTRIBUTE_CENTRE_LIMIT = 0.25
KEYPOINT_NMS_IOU = 0.20


@dataclass(frozen=True)
class WholeBodySettings:
    object_threshold: float = 0.35  # -ost
    attribute_threshold: float = 0.70  # -ast
    keypoint_threshold: float = 0.30  # -kst
    # Which attribute merges run (-dnm, -dgm, -dhm, -dlr switch them off).
    merges: frozenset[str] = field(default_factory=lambda: frozenset(ATTRIBUTES))

    def threshold(self, class_id: int) -> float:
        gate = CLASSES[class_id].gate
        if gate == "attribute":
            return self.attribute_threshold
        if gate == "keypoint":
            return self.keypoint_threshold
        return self.object_threshold


@dataclass(frozen=True, slots=True)
class WholeBodyObject:
    class_id: int
    box: tuple[int, int, int, int]  # pixels (x1, y1, x2, y2)
    normalised: tuple[float, float, float, float]  # clamped to [0, 1]
    score: float
    generation: int = -1  # bodies: 0 adult, 1 child
    gender: int = -1  # bodies: 0 male, 1 female
    head_pose: int = -1  # heads: 0..7, see POSE_NAMES
    handedness: int = -1  # hands: 0 left, 1 right

    @property
    def centre(self) -> tuple[int, int]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) // 2, (y1 + y2) // 2

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class ParsedFrame:
    objects: tuple[WholeBodyObject, ...]  # drawable: objects in detector order, then keypoints
    attributes: tuple[WholeBodyObject, ...]  # the gated attribute boxes (written to YOLO text)


def gate_rows(
    rows: np.ndarray, frame_shape: tuple[int, ...], settings: WholeBodySettings
) -> list[WholeBodyObject]:
    """Known classes at or above their group's threshold, as pixel boxes, in detector order."""
    h, w = frame_shape[:2]
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    objects = []
    for class_value, x1, y1, x2, y2, score in rows:
        class_id = int(round(class_value))
        if not 0 <= class_id < len(CLASSES) or score < settings.threshold(class_id):
            continue
        nx1, ny1, nx2, ny2 = max(0.0, x1), max(0.0, y1), min(x2, 1.0), min(y2, 1.0)
        box = (int(nx1 * w), int(ny1 * h), int(nx2 * w), int(ny2 * h))
        objects.append(WholeBodyObject(class_id, box, (nx1, ny1, nx2, ny2), float(score)))
    return objects


def attach_attributes(
    objects: list[WholeBodyObject], merges: frozenset[str]
) -> tuple[list[WholeBodyObject], list[WholeBodyObject]]:
    """(objects with attributes set, the attribute boxes taken out of the list)."""
    attributes = [o for o in objects if CLASSES[o.class_id].role == "attribute"]
    kept = [o for o in objects if CLASSES[o.class_id].role != "attribute"]
    for name in ATTRIBUTES:
        if name not in merges:
            continue
        group = [a for a in attributes if CLASSES[a.class_id].attribute == name]
        if not group:
            continue
        base_class = CLASSES[group[0].class_id].base
        bases = [i for i, o in enumerate(kept) if o.class_id == base_class]
        for base_index, attribute in _match(kept, bases, group):
            value = CLASSES[attribute.class_id].value
            kept[base_index] = replace(kept[base_index], **{name: value})
    return kept, attributes


def _match(
    objects: list[WholeBodyObject], bases: list[int], group: list[WholeBodyObject]
) -> list[tuple[int, WholeBodyObject]]:
    """One-to-one pairs (base index, attribute): best overlap, then score, then distance."""
    candidates = []
    for base_index in bases:
        base = objects[base_index]
        limit = ATTRIBUTE_CENTRE_LIMIT * math.hypot(base.width, base.height)
        for j, attribute in enumerate(group):
            overlap = iou(base.box, attribute.box)
            distance = math.dist(base.centre, attribute.centre)
            if overlap > 0 and distance <= limit:
                candidates.append((-overlap, -attribute.score, distance, base_index, j))
    pairs, used_bases, used_attributes = [], set(), set()
    for _, _, _, base_index, j in sorted(candidates):
        if base_index not in used_bases and j not in used_attributes:
            used_bases.add(base_index)
            used_attributes.add(j)
            pairs.append((base_index, group[j]))
    return pairs


def suppress_keypoints(objects: list[WholeBodyObject]) -> list[WholeBodyObject]:
    """Non-keypoints in their order, then each keypoint class after greedy NMS (IoU >= 0.2
    suppresses), by class id and falling score."""
    out = [o for o in objects if o.class_id not in KEYPOINT_IDS]
    for class_id in KEYPOINT_IDS:
        ranked = sorted((o for o in objects if o.class_id == class_id), key=lambda o: -o.score)
        kept: list[WholeBodyObject] = []
        for candidate in ranked:
            if all(iou(candidate.box, k.box) < KEYPOINT_NMS_IOU for k in kept):
                kept.append(candidate)
        out.extend(kept)
    return out


def parse_wholebody(
    rows: np.ndarray, frame_shape: tuple[int, ...], settings: WholeBodySettings
) -> ParsedFrame:
    """Gate, attach attributes, thin keypoints: what the demo draws and writes."""
    objects, attributes = attach_attributes(gate_rows(rows, frame_shape, settings), settings.merges)
    return ParsedFrame(tuple(suppress_keypoints(objects)), tuple(attributes))
