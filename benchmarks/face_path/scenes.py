"""Scenes v2: harder frames for the face-detection benchmark, with a dev part and a held-out part.

v1 (`frames.compose_frames`) pastes frontal FERPlus faces on windows of 16 photographs, and
its detector settings were tuned on those frames. v2 splits both the faces and the photographs
in two fixed halves, so that a setting chosen on "dev" frames can be checked on "heldout" frames
made of faces and photographs it never saw:

* faces: the leak-free FERPlus test faces shuffled with FACE_SPLIT_SEED, first half dev, second
  half held-out (`split_faces`);
* photographs: every usable image that scikit-image and matplotlib ship, in two lists that
  each hold an animal, text, a texture, patterns, medical images, space and objects, and one
  photograph with a real face in context (`SPLITS`);
* faces at 60-240 px (each size bucket equally often), each under one condition of
  `conditions` (frontal, yawed, rolled, occluded, lit);
* 30 % of the frames are collages of 2-4 photographs (a poster wall), a fifth hold no face, a
  tenth hold the split's real-face photograph.

Frames are built at run time and depend only on the seed (and the split).
`python -m benchmarks.face_path.run --scenes v2 --split dev|heldout` measures detectors on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.face_path.conditions import draw_condition, footprint, paste_with_condition
from benchmarks.face_path.frames import (
    ASTRONAUT_FACE,
    BenchFrame,
    background_frame,
    free_box,
    photo_face_frame,
    skin_tone,
)

SCENES_VERSION = "face-scenes-v2"
FACE_SPLIT_SEED = 20261207  # fixes which FERPlus test faces are dev and which held-out
SPLIT_NAMES = ("dev", "heldout")
SIZE_BUCKETS = ((60, 90), (90, 130), (130, 180), (180, 240))  # px, lower edge included
EMPTY_SHARE = 0.2  # frames without a face
PHOTO_FACE_SHARE = 0.1  # frames holding the split's real-face photograph
COLLAGE_SHARE = 0.3  # frames whose background is 2-4 photographs side by side
MAX_FACES = 2  # pasted FERPlus faces per frame
COLLAGE = "collage"
PHOTO_FACE = "photo"  # the condition of a real face in its photograph

# name -> (package, file). Every image the two packages ship that can serve, except: camera.png
# (a man in near profile behind a camcorder: only OpenCV's profile cascade fires, and its boxes
# on the image and its mirror disagree, IoU 0.56, so his face cannot get a true box, and a
# photograph holding an unlabelled face cannot be a background); no_time_for_that_tiny.gif (a
# 14x25 px animation of a person); chessboard_GRAY (chessboard_RGB's board) and
# motorcycle_right (motorcycle_left's stereo twin), which would put one picture in both halves
# or twice in one; multipage*.tif (10x15 px), lfw_subset.npy (25x25 face crops).
PHOTO_FILES = {
    "astronaut": ("skimage", "astronaut.png"),
    "brick": ("skimage", "brick.png"),
    "cell": ("skimage", "cell.png"),
    "chelsea": ("skimage", "chelsea.png"),
    "chessboard_RGB": ("skimage", "chessboard_RGB.png"),
    "clock_motion": ("skimage", "clock_motion.png"),
    "coffee": ("skimage", "coffee.png"),
    "coins": ("skimage", "coins.png"),
    "color": ("skimage", "color.png"),
    "grass": ("skimage", "grass.png"),
    "gravel": ("skimage", "gravel.png"),
    "horse": ("skimage", "horse.png"),
    "hubble_deep_field": ("skimage", "hubble_deep_field.jpg"),
    "ihc": ("skimage", "ihc.png"),
    "logo": ("skimage", "logo.png"),
    "microaneurysms": ("skimage", "microaneurysms.png"),
    "moon": ("skimage", "moon.png"),
    "motorcycle_left": ("skimage", "motorcycle_left.png"),
    "page": ("skimage", "page.png"),
    "phantom": ("skimage", "phantom.png"),
    "retina": ("skimage", "retina.jpg"),
    "rocket": ("skimage", "rocket.jpg"),
    "text": ("skimage", "text.png"),
    "grace_hopper": ("matplotlib", "grace_hopper.jpg"),
    "mpl_logo": ("matplotlib", "logo2.png"),
    "present": ("matplotlib", "Minduka_Present_Blue_Pack.png"),
}

# What each background shows, so that both halves can be checked to hold every kind.
KINDS = {
    "chelsea": "animal",  # a cat's face
    "horse": "animal",  # a horse's silhouette
    "page": "text",  # printed
    "text": "text",  # hand-written digits
    "grass": "texture",
    "gravel": "texture",
    "brick": "texture",
    "chessboard_RGB": "pattern",
    "color": "pattern",  # a colour wheel
    "mpl_logo": "pattern",
    "logo": "pattern",
    "phantom": "pattern",  # the Shepp-Logan head phantom: a head-like oval
    "present": "pattern",  # a drawn gift box
    "retina": "medical",
    "cell": "medical",
    "ihc": "medical",
    "microaneurysms": "medical",
    "moon": "space",
    "hubble_deep_field": "space",
    "clock_motion": "object",
    "motorcycle_left": "object",
    "coffee": "object",
    "coins": "object",
    "rocket": "object",
}


@dataclass(frozen=True)
class RealFace:
    box: tuple[int, int, int, int]  # the FER-style face box in the photograph, brows to chin
    smiling: bool


REAL_FACES = {
    "astronaut": RealFace(ASTRONAUT_FACE, smiling=True),
    # OpenCV's four frontal cascades, on the photograph and its mirror, agree within 7 px on a
    # side of 225 px (this is their median); checked by eye against the astronaut's box: both
    # run from the forehead to just below the chin. Her mouth is closed, her face neutral (the
    # shipped S gives her crop 0.03).
    "grace_hopper": RealFace((153, 104, 378, 329), smiling=False),
}


@dataclass(frozen=True)
class Split:
    backgrounds: tuple[str, ...]
    face_photo: str  # the photograph with a real face in context


# The face photographs, the animals and the text go one each way; the v1 backgrounds that drew
# YuNet's false boxes (motorbike, Hubble field, cat, coins, coffee, gravel, retina) are spread
# over both halves.
SPLITS = {
    "dev": Split(
        ("chelsea", "page", "grass", "gravel", "chessboard_RGB", "color", "mpl_logo",
         "retina", "cell", "moon", "clock_motion", "motorcycle_left"),
        face_photo="astronaut",
    ),
    "heldout": Split(
        ("horse", "text", "brick", "logo", "phantom", "present", "ihc", "microaneurysms",
         "hubble_deep_field", "coins", "rocket", "coffee"),
        face_photo="grace_hopper",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SceneFrame(BenchFrame):
    conditions: tuple[str, ...] = ()  # per face: a conditions.CONDITIONS name or PHOTO_FACE
    photos: tuple[str, ...] = ()  # every photograph the frame shows


def package_folder(package: str) -> Path:
    if package == "skimage":
        from skimage import data

        return Path(data.__file__).resolve().parent
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


def load_photo(path: Path) -> np.ndarray:
    """A BGR uint8 image: 16-bit made 8-bit (chessboard_RGB.png is 16-bit), grey made BGR,
    transparency laid over white (under the transparent pixels of matplotlib's logo lies
    black, which is not what the logo looks like)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read photograph {path}")
    if image.dtype == np.uint16:
        image = np.round(image / 257.0).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255
        white = np.full(image.shape[:2] + (3,), 255.0, np.float32)
        return np.round(alpha * image[..., :3] + (1 - alpha) * white).astype(np.uint8)
    return image


def scene_photos(split: str) -> dict[str, np.ndarray]:
    """The split's photographs (backgrounds and its real-face photograph), BGR uint8."""
    names = (*SPLITS[split].backgrounds, SPLITS[split].face_photo)
    return {name: load_photo(package_folder(PHOTO_FILES[name][0]) / PHOTO_FILES[name][1])
            for name in names}  # fmt: skip


def split_faces(
    faces: Sequence[np.ndarray], labels: np.ndarray, split: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """The split's half of `faces` (the leak-free FERPlus test faces): shuffled with
    FACE_SPLIT_SEED, the first half is dev, the second held-out."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
    order = np.random.default_rng(FACE_SPLIT_SEED).permutation(len(faces))
    half = len(faces) // 2
    chosen = order[:half] if split == "dev" else order[half:]
    return [faces[i] for i in chosen], np.asarray(labels)[chosen]


def draw_side(rng: np.random.Generator) -> int:
    """A face side: a SIZE_BUCKETS bucket picked evenly, then a side within it, so that small
    faces are as well measured as large ones."""
    low, high = SIZE_BUCKETS[int(rng.integers(len(SIZE_BUCKETS)))]
    return int(rng.integers(low, high))


def _cuts(length: int, parts: int, rng: np.random.Generator) -> list[int]:
    weights = rng.uniform(0.6, 1.4, parts)
    return [0, *(round(length * c) for c in np.cumsum(weights)[:-1] / weights.sum()), length]


def collage_frame(
    photos: Sequence[np.ndarray],
    rng: np.random.Generator,
    frame_size: tuple[int, int] = (480, 640),
) -> np.ndarray:
    """Windows of 2-4 photographs (`background_frame`'s) side by side on a plain wall, like
    posters: in columns, or a 2x2 grid for four, a few px of wall between them."""
    h, w = frame_size
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = rng.uniform(60, 200, size=3).astype(np.uint8)
    rows, cols = (2, 2) if len(photos) == 4 else (1, len(photos))
    xs, ys = _cuts(w, cols, rng), _cuts(h, rows, rng)
    for i, photo in enumerate(photos):
        row, col = divmod(i, cols)
        gap = int(rng.integers(3, 13))
        x1, x2, y1, y2 = xs[col] + gap, xs[col + 1] - gap, ys[row] + gap, ys[row + 1] - gap
        frame[y1:y2, x1:x2] = background_frame(photo, rng, (y2 - y1, x2 - x1))
    return frame


def _background(
    photos: dict[str, np.ndarray],
    names: Sequence[str],
    rng: np.random.Generator,
    frame_size: tuple[int, int],
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """(image, its background's name, the photographs in it): a collage or one photograph."""
    if rng.random() < COLLAGE_SHARE:
        count = int(rng.integers(2, 5))
        chosen = tuple(names[int(i)] for i in rng.choice(len(names), count, replace=False))
        return collage_frame([photos[n] for n in chosen], rng, frame_size), COLLAGE, chosen
    name = names[int(rng.integers(len(names)))]
    return background_frame(photos[name], rng, frame_size), name, (name,)


def compose_scenes(
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    photos: dict[str, np.ndarray],
    split: str,
    count: int,
    seed: int = 0,
    frame_size: tuple[int, int] = (480, 640),
) -> list[SceneFrame]:
    """`count` v2 frames of `split` (`photos` must hold its photographs, `faces` and `labels`
    its faces: `split_faces`). Faces are drawn in an order shuffled by `seed`, each once until
    all are used. Both splits hold 12 backgrounds, so one seed gives dev and held-out the same
    layout (which frames are empty or collages, face sizes, conditions, places): what differs
    between the two is the photographs and the faces alone."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(faces))
    names, face_photo = SPLITS[split].backgrounds, SPLITS[split].face_photo
    next_face = 0
    frames = []
    for _ in range(count):
        image, background, shown = _background(photos, names, rng, frame_size)
        scene = image.copy()
        boxes, smiling, crops, conditions = [], [], [], []
        draw = rng.random()
        if draw < EMPTY_SHARE:
            pass
        elif draw < EMPTY_SHARE + PHOTO_FACE_SHARE:
            real = REAL_FACES[face_photo]
            image, box, crop = photo_face_frame(
                photos[face_photo], real.box, image, draw_side(rng), rng
            )
            boxes, smiling, crops = [box], [real.smiling], [crop]
            conditions, background = [PHOTO_FACE], f"{face_photo} over {background}"
            shown = (face_photo, *shown)
        else:
            taken = []  # footprints: a rolled face's corners reach beyond its box
            for _ in range(int(rng.integers(1, MAX_FACES + 1))):
                side, condition = draw_side(rng), draw_condition(rng)
                space = footprint(side, condition)
                placed = free_box(rng, taken, space, frame_size)
                if placed is None:
                    continue
                pad = (space - side) // 2
                box = (placed[0] + pad, placed[1] + pad, placed[2] - pad, placed[3] - pad)
                tone = skin_tone(rng)
                index = int(order[next_face % len(faces)])
                next_face += 1
                paste_with_condition(image, scene, faces[index], box, tone, condition)
                taken.append(placed)
                boxes.append(box)
                smiling.append(bool(labels[index]))
                crops.append(faces[index])
                conditions.append(condition.name)
        frames.append(
            SceneFrame(
                image,
                tuple(boxes),
                tuple(smiling),
                tuple(crops),
                background,
                conditions=tuple(conditions),
                photos=shown,
            )
        )
    return frames
