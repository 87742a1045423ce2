"""Keypoints joined into bones, person by person.

A keypoint belongs to the first body (class 0, list order) whose box holds its centre, edges
included. Unlike the reference, keypoints inside no body are never joined (they could belong to
anyone), and only keypoints that are drawn take part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hsc_infer.demo.wholebody.classes import BODY, BONES
from hsc_infer.demo.wholebody.parse import WholeBodyObject

# Longest bone the matcher accepts, in pixels (the reference demo's setting).
MAX_BONE_PX = 300.0

Point = tuple[int, int]


def person_of(keypoint: WholeBodyObject, bodies: Sequence[WholeBodyObject]) -> int | None:
    """Index of the first body whose box contains the keypoint's centre, else None."""
    cx, cy = keypoint.centre
    for index, body in enumerate(bodies):
        x1, y1, x2, y2 = body.box
        if x1 <= cx <= x2 and y1 <= cy <= y2:
            return index
    return None


def bones(objects: Sequence[WholeBodyObject]) -> list[tuple[Point, Point]]:
    """Line segments (parent centre, child centre) for every accepted parent -> child pair."""
    bodies = [o for o in objects if o.class_id == BODY]
    persons = {id(o): person_of(o, bodies) for o in objects}
    lines = []
    for parent_class, child_class, capacity in BONES:
        parents = [o for o in objects if o.class_id == parent_class]
        children = [o for o in objects if o.class_id == child_class]
        pairs = []
        for i, parent in enumerate(parents):
            for j, child in enumerate(children):
                person = persons[id(parent)]
                if person is None or person != persons[id(child)]:
                    continue
                distance = math.dist(parent.centre, child.centre)
                if distance <= MAX_BONE_PX:
                    pairs.append((distance, i, j))
        taken = [0] * len(parents)
        used = set()
        for _, i, j in sorted(pairs):
            if taken[i] < capacity and j not in used:
                taken[i] += 1
                used.add(j)
                lines.append((parents[i].centre, children[j].centre))
    return lines
