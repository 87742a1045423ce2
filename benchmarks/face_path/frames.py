"""Does detect -> crop -> classify on a camera frame reproduce the crops a model was trained on?

Known face crops (e.g. FERPlus test faces) are pasted into larger colour frames
(`paste_face_in_frame`); the detector has to find each one, the contract turns its box into a
crop, and the classifier's decisions are compared with its decisions on the original crops. A
contract whose crop kind, margin or colour mode does not match the training data shows up as a
gap between the two F1 scores. `benchmarks.face_path.check_crops` runs it on the shipped
models; tests/test_pathcheck.py tests it.

The second half builds frames over real photographs (scikit-image's, a dev dependency) with
known face boxes, at run time, for `benchmarks.face_path.run` to measure the detectors on;
`clips` builds clips from the same pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from hsc_infer.classifier import SmileClassifier
from hsc_infer.crops import crop, crop_box
from hsc_infer.detectors.base import Detector, iou

MIN_IOU = 0.3  # a detection overlapping the pasted face this much counts as finding it
SKIN_TONES_BGR = ((0.72, 0.82, 1.0), (0.60, 0.72, 0.92), (0.45, 0.55, 0.70), (0.80, 0.86, 0.98))


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """One of `SKIN_TONES_BGR`, drawn by `rng`: the per-channel gain a grey face is tinted by."""
    return np.asarray(SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))], np.float32)


def paste_face_in_frame(
    face: np.ndarray,
    rng: np.random.Generator,
    frame_size: tuple[int, int] = (480, 640),
    side_range: tuple[int, int] = (110, 200),
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A colour BGR frame holding `face` (a grey or BGR face crop) and the pasted box.

    The face is enlarged to a random side in `side_range`, tinted with a skin tone (so a colour
    model and a grey one see different pixels) and placed at a random spot on a smooth random
    colour gradient with mild noise: a stand-in for a camera frame around a known face.
    """
    h, w = frame_size
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    side = int(rng.integers(side_range[0], side_range[1] + 1))
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    tone = skin_tone(rng)
    corners = rng.uniform(40, 220, size=(2, 2, 3)).astype(np.float32)
    frame = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    frame += rng.normal(0.0, 4.0, size=frame.shape).astype(np.float32)
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    frame[y : y + side, x : x + side] = big[..., None] * tone
    return np.clip(frame, 0, 255).astype(np.uint8), (x, y, x + side, y + side)


def leak_free_test_faces(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """(BGR uint8 faces, smiling labels) of a dataset's test split as the data layer builds it:
    on FERPlus, `load_dataset` leaves out copies of train images and label conflicts, giving
    the 2,904-face leak-free split. Needs the train extras (hsc_jax.data)."""
    from hsc_jax.data.dataset import load_dataset

    test = load_dataset(path).splits["test"]  # (N, 48, 48, 3) RGB
    return [image[..., ::-1].copy() for image in test.images], test.labels == 1


def f1_score(predicted: np.ndarray, labels: np.ndarray) -> float:
    """F1 of boolean predictions against boolean labels (0.0 when both are all negative)."""
    tp = float(np.sum(predicted & labels))
    denominator = float(predicted.sum() + labels.sum())
    return 2 * tp / denominator if denominator else 0.0


@dataclass(frozen=True)
class PathCheck:
    faces: int
    found: int  # faces the detector found (IoU >= MIN_IOU with the pasted box)
    box_scale: float  # median detected side / pasted side, over found faces
    f1_direct: float  # on the original crops, every face
    f1_path: dict[float, float]  # crop margin -> F1 through the frame; a missed face = not smiling
    f1_direct_found: float  # on the original crops of the found faces only
    f1_path_found: dict[float, float]  # crop margin -> F1 through the frame, found faces only

    @property
    def found_rate(self) -> float:
        return self.found / self.faces if self.faces else 0.0


def check_pasted_faces(
    classifier: SmileClassifier,
    detector: Detector,
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    seed: int = 0,
    margins: Sequence[float] | None = None,
) -> PathCheck:
    """Paste each face into its own frame and compare the path's F1 with the direct one.

    `faces`: BGR (or grey) crops as the model was trained on; `labels`: True for smiling.
    `margins`: crop margins to try (default: the contract's own).
    """
    labels = np.asarray(labels, dtype=bool)
    margins = [classifier.contract.crop_margin] if margins is None else list(margins)
    direct = classifier.predict(list(faces)) >= classifier.threshold
    rng = np.random.default_rng(seed)
    found_detections, scales = [], []
    frames = []
    for face in faces:
        frame, pasted = paste_face_in_frame(face, rng)
        detections = detector(frame)
        best = max(detections, key=lambda d: iou(d.box, pasted), default=None)
        if best is not None and iou(best.box, pasted) >= MIN_IOU:
            found_detections.append(best)
            scales.append((best.box[2] - best.box[0]) / (pasted[2] - pasted[0]))
        else:
            found_detections.append(None)
        frames.append(frame)

    found = np.array([d is not None for d in found_detections], dtype=bool)
    f1_path, f1_path_found = {}, {}
    for margin in margins:
        contract = replace(classifier.contract, crop_margin=margin)
        crops, where = [], []
        for i, (frame, detection) in enumerate(zip(frames, found_detections, strict=True)):
            if detection is not None:
                crops.append(crop(frame, crop_box(detection, contract, frame.shape)))
                where.append(i)
        predicted = np.zeros(len(faces), dtype=bool)
        if crops:
            predicted[where] = classifier.predict(crops) >= classifier.threshold
        f1_path[margin] = f1_score(predicted, labels)
        f1_path_found[margin] = f1_score(predicted[found], labels[found])
    return PathCheck(
        faces=len(faces),
        found=len(scales),
        box_scale=float(np.median(scales)) if scales else float("nan"),
        f1_direct=f1_score(direct, labels),
        f1_path=f1_path,
        f1_direct_found=f1_score(direct[found], labels[found]),
        f1_path_found=f1_path_found,
    )


# --- Frames from real photographs (benchmarks.face_path.run, benchmarks.inference.demo) ---

# scikit-image's bundled photographs (BSD) that hold no face: brick, grass, gravel, a cat, a
# rocket, printed pages, coffee, coins, a horse, a motorbike, stars, the moon, a clock, a retina,
# stained tissue. The astronaut photograph holds the one real face in context; camera.png (a
# man in profile, unlabelled) is left out so that every face in a frame has a true box.
BACKGROUNDS = (
    "brick",
    "grass",
    "gravel",
    "chelsea",
    "rocket",
    "page",
    "text",
    "coffee",
    "coins",
    "horse",
    "motorcycle_left",
    "hubble_deep_field",
    "moon",
    "clock_motion",
    "retina",
    "ihc",
)
ASTRONAUT = "astronaut"
# Her face box in astronaut.png (512x512): the box OpenCV's Haar cascades draw (all three agree
# within 3 px), i.e. the FER-style face box, brows to chin. She is smiling.
ASTRONAUT_FACE = (177, 66, 272, 161)


def skimage_photos(names: Sequence[str] = (*BACKGROUNDS, ASTRONAUT)) -> dict[str, np.ndarray]:
    """BGR uint8 photographs from scikit-image's data folder (a dev dependency)."""
    from skimage import data

    folder = Path(data.__file__).resolve().parent
    photos = {}
    for name in names:
        (path,) = [p for p in folder.glob(f"{name}.*") if p.suffix in (".png", ".jpg")]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read scikit-image photograph {path}")
        photos[name] = image
    return photos


def background_frame(
    photo: np.ndarray, rng: np.random.Generator, frame_size: tuple[int, int] = (480, 640)
) -> np.ndarray:
    """A random window of `photo` (half to all of its shorter side) stretched to the frame,
    mirrored half the time: many different backgrounds from a few photographs."""
    h, w = frame_size
    ph, pw = photo.shape[:2]
    aspect = w / h
    win_h = int(rng.uniform(0.5, 1.0) * min(ph, pw / aspect))
    win_w = int(win_h * aspect)
    y = int(rng.integers(0, ph - win_h + 1))
    x = int(rng.integers(0, pw - win_w + 1))
    frame = cv2.resize(photo[y : y + win_h, x : x + win_w], (w, h), interpolation=cv2.INTER_LINEAR)
    return frame[:, ::-1].copy() if rng.random() < 0.5 else frame


def paste_face(
    frame: np.ndarray, face: np.ndarray, box: tuple[int, int, int, int], tone: np.ndarray
) -> None:
    """Paste a grey or BGR face crop into `frame` at `box` (in place): enlarged, tinted with a
    skin tone, its outer 5 % blended into the background so the square's edge is not a cue."""
    x1, y1, x2, y2 = box
    side = x2 - x1
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    ramp = np.clip(np.minimum(np.arange(side), np.arange(side)[::-1]) / (0.05 * side), 0, 1)
    alpha = np.minimum.outer(ramp, ramp)[..., None].astype(np.float32)
    region = frame[y1:y2, x1:x2].astype(np.float32)
    blended = alpha * big[..., None] * tone + (1 - alpha) * region
    frame[y1:y2, x1:x2] = np.clip(blended, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class BenchFrame:
    image: np.ndarray  # (480, 640, 3) BGR
    boxes: tuple[tuple[int, int, int, int], ...]  # true face boxes (the pasted crops)
    smiling: tuple[bool, ...]  # per face
    crops: tuple[np.ndarray, ...]  # per face: the original crop, for the direct decision
    background: str


def free_box(
    rng: np.random.Generator,
    taken: list[tuple[int, int, int, int]],
    side: int,
    frame_size: tuple[int, int],
) -> tuple[int, int, int, int] | None:
    h, w = frame_size
    for _ in range(50):
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        box = (x, y, x + side, y + side)
        # Keep faces apart (a gap of a tenth of a side) so each true box has its own detection.
        gap = side // 10
        if all(
            box[0] >= t[2] + gap
            or t[0] >= box[2] + gap
            or box[1] >= t[3] + gap
            or t[1] >= box[3] + gap
            for t in taken
        ):
            return box
    return None


def astronaut_frame(
    photo: np.ndarray,
    background: np.ndarray,
    side: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """`photo_face_frame` on the astronaut's face (her face box, her face crop)."""
    return photo_face_frame(photo, ASTRONAUT_FACE, background, side, rng)


def photo_face_frame(
    photo: np.ndarray,
    face_box: tuple[int, int, int, int],
    background: np.ndarray,
    side: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """A photograph scaled so the face at `face_box` is `side` px, placed at a random spot of a
    frame over `background`. Returns (frame, face box, the face crop)."""
    h, w = background.shape[:2]
    fx1, fy1, fx2, fy2 = face_box
    scale = side / (fx2 - fx1)
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    face = (round(fx1 * scale), round(fy1 * scale))
    face = (face[0], face[1], face[0] + side, face[1] + side)
    # Where the face lands in the frame; the photograph's offset follows from it.
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    ox, oy = x - face[0], y - face[1]
    frame = background.copy()
    bx1, by1 = max(0, ox), max(0, oy)
    bx2, by2 = min(w, ox + big.shape[1]), min(h, oy + big.shape[0])
    frame[by1:by2, bx1:bx2] = big[by1 - oy : by2 - oy, bx1 - ox : bx2 - ox]
    box = (x, y, x + side, y + side)
    return frame, box, frame[y : y + side, x : x + side].copy()


def compose_frames(
    faces: Sequence[np.ndarray],
    labels: np.ndarray,
    photos: dict[str, np.ndarray],
    count: int,
    seed: int = 0,
    frame_size: tuple[int, int] = (480, 640),
    side_range: tuple[int, int] = (60, 220),
    empty_share: float = 0.2,
    astronaut_share: float = 0.1,
    max_faces: int = 2,
) -> list[BenchFrame]:
    """`count` frames over the photographs: `empty_share` hold no face, `astronaut_share` hold
    the astronaut (her real face in context, smiling), the rest 1..`max_faces` FERPlus faces,
    each a distinct face drawn in order from `faces`, at a side in `side_range`."""
    rng = np.random.default_rng(seed)
    names = [n for n in BACKGROUNDS if n in photos]
    next_face = 0
    frames = []
    for _ in range(count):
        name = names[int(rng.integers(len(names)))]
        image = background_frame(photos[name], rng, frame_size)
        draw = rng.random()
        boxes, smiling, crops = [], [], []
        if draw < empty_share:
            pass
        elif draw < empty_share + astronaut_share and ASTRONAUT in photos:
            side = int(rng.integers(side_range[0], side_range[1] + 1))
            image, box, face = astronaut_frame(photos[ASTRONAUT], image, side, rng)
            boxes, smiling, crops = [box], [True], [face]
            name = f"{ASTRONAUT} over {name}"
        else:
            for _ in range(int(rng.integers(1, max_faces + 1))):
                side = int(rng.integers(side_range[0], side_range[1] + 1))
                box = free_box(rng, boxes, side, frame_size)
                if box is None:
                    continue
                tone = skin_tone(rng)
                index = next_face % len(faces)
                next_face += 1
                paste_face(image, faces[index], box, tone)
                boxes.append(box)
                smiling.append(bool(labels[index]))
                crops.append(faces[index])
        frames.append(BenchFrame(image, tuple(boxes), tuple(smiling), tuple(crops), name))
    return frames
