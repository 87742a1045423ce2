"""YuNet, libfacedetection's CNN face detector, through the `yuface` wheel (BSD; the weights are
compiled into the wheel, so nothing is downloaded).

`yuface` ships wheels for CPython 3.10-3.11 on Linux x86-64 and 3.11 on Windows; where it does
not install, `load_detector()` falls back to the Haar cascade. Its boxes run from the hairline to
below the chin; they are converted to the project's face box (`yunet_to_face`), so a YuNet
detection crops like a Haar one (`crops.py` then applies the model's contract). Settings are chosen by `benchmarks/face_path/run.py`
(docs/face-path-benchmark.md).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from hsc_infer.detectors.base import Detection, check_frame, clamp_box, working_scale
from hsc_infer.detectors.landmarks import plausible_face
from hsc_infer.detectors.second_look import SecondLook
from hsc_infer.errors import MediaError

# Chosen on the face-path benchmark (docs/face-path-benchmark.md). On the harder v2 scenes
# (poses, occlusion, lighting, 60-240 px faces) with the second look, 448 px found 94.4 % of the
# held-out faces and 512 px 96.1 %, both with 0.018 false boxes per frame: faces of 60-90 px
# are the ones a narrower search loses (87.8 % against 91.4 %). 512 px costs about 4 ms more a
# frame (about 20 against 16 ms, one thread, on a 2-core AMD EPYC). One OpenMP thread: with two,
# YuNet's threads wait on each other whenever anything else runs (the classifier, video
# decoding, another program): 11.8 ms median but 466 ms p95 at 448 px (2026-12-02), against 14.0
# and 50 ms, and the demo fell from 47 to 7 FPS.
DEFAULT_DETECT_WIDTH = 512
DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_MIN_FACE = 32  # frame pixels: smaller boxes on a 640x480 frame are texture, not faces
DEFAULT_THREADS = 1
# The landmark layout check (detectors/landmarks.py) is off by default: YuNet's false boxes
# (a motorbike's headlight, galaxies, a cat's eye; docs/face-path-benchmark.md, 2026-12-06)
# come with face-like landmarks, so bounds loose enough to keep every true face removed none of
# them at score 0.5 or 0.6 on 1,000 benchmark frames, and one of 63 at 0.45.
DEFAULT_LANDMARK_CHECK = False
# A closer look at candidates scored 0.3-0.7 (detectors/second_look.py).
DEFAULT_SECOND_LOOK: SecondLook | None = SecondLook()

# YuNet's box (hairline to below the chin, about 1.25x taller than wide) -> the face box: a square
# of 0.9 YuNet heights on the same centre. On about 300 FERPlus faces pasted into photographs,
# where the true box is the crop the model was trained on (`benchmarks/face_path/run.py
# --calibrate`), the true side is 0.97-1.00 YuNet heights (median at 448 and 320 px; the height
# varies least of the candidates tried: YuNet's width, the eye-mouth and eye-eye distances) and
# the true centre sits on YuNet's. But a pasted crop has no hair or forehead around it for YuNet's box to reach; on
# the astronaut, the one real face in context, the Haar face box is 0.87 YuNet heights. 0.9
# frames real faces like Haar and FER, and scores as well on the pasted ones (S's accuracy on
# the found faces: 93.8 % at 0.9, 93.5 % at 1.0; on the original crops: 92.8 %).
YUNET_SIDE_PER_HEIGHT = 0.9
YUFACE_PLATFORMS = "CPython 3.10-3.11 on Linux x86-64, 3.11 on Windows x86-64"


def yunet_to_face(box: Sequence[float]) -> tuple[float, float, float, float]:
    """A YuNet box (x1, y1, x2, y2) -> the face box a Haar cascade draws and a FER crop holds."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = (y2 - y1) * YUNET_SIDE_PER_HEIGHT / 2
    return cx - half, cy - half, cx + half, cy + half


def face_detection(
    score: float, box: np.ndarray, points: np.ndarray, frame_shape: tuple[int, ...]
) -> Detection | None:
    """One YuNet candidate (frame pixels) as a face detection: the face box inside the frame and
    the landmarks; None where the box lies wholly outside the frame."""
    face = clamp_box(yunet_to_face(box), frame_shape)
    if face[2] <= face[0] or face[3] <= face[1]:
        return None
    landmarks = tuple((float(x), float(y)) for x, y in points)
    return Detection(box=face, score=float(score), kind="face", landmarks=landmarks)


def import_yuface() -> ModuleType:
    """The `yuface` module, or a MediaError saying where its wheels exist."""
    try:
        import yuface
    except ImportError as e:
        raise MediaError(
            f"the YuNet detector needs the `yuface` package (wheels for {YUFACE_PLATFORMS}); "
            "`pip install yuface`, or pick the Haar detector with -m haar"
        ) from e
    return yuface


def openmp_thread_setter(yuface: ModuleType) -> Callable[[int], None] | None:
    """`omp_set_num_threads` of the OpenMP runtime bundled in the yuface wheel (Linux:
    `yuface.libs/libgomp-*.so*`), or None where there is none to find."""
    package = Path(yuface.__file__).resolve().parent
    for path in sorted(package.parent.glob("yuface.libs/libgomp*.so*")):
        try:
            return ctypes.CDLL(str(path)).omp_set_num_threads
        except (OSError, AttributeError):
            continue
    return None


def yuface_available() -> bool:
    try:
        import_yuface()
    except MediaError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class YuNetOutput:
    """YuNet's own output in frame pixels, before the conversion to face boxes."""

    scores: np.ndarray  # (N,) in [0, 1]
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    landmarks: np.ndarray  # (N, 5, 2) x, y


class YuNetFaceDetector:
    """Frontal and half-profile faces as `kind="face"` detections with 5 landmarks.

    `detect_width`: frames wider than this are searched at this width (boxes scaled back);
    YuNet's cost grows with the pixel count (one thread, other core busy: 7.3 ms at 320x240,
    14.0 ms at 448x336, 16.5 ms at 480x360), and faces under about 50 px at the working size
    are often missed.
    `score_threshold`: YuNet's confidence in [0, 1]. `min_face`: boxes narrower than this many
    frame pixels are dropped. `threads`: OpenMP threads for YuNet (None: leave OpenMP's setting,
    by default one per core); 1 is steadier when other work keeps a core busy, since YuNet's
    threads wait for each other at every layer. `landmark_check`: drop candidates whose
    landmarks no face could have (eyes below the mouth, points on a line, far outside the box:
    `landmarks.plausible_face`); off by default, since it removed none of the benchmark's false
    boxes at the default score. `second_look`: how candidates YuNet is unsure of are looked
    at again on a patch around them (`second_look.SecondLook`); None searches once.
    """

    kind = "face"

    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        detect_width: int | None = DEFAULT_DETECT_WIDTH,
        min_face: int = DEFAULT_MIN_FACE,
        threads: int | None = DEFAULT_THREADS,
        landmark_check: bool = DEFAULT_LANDMARK_CHECK,
        second_look: SecondLook | None = DEFAULT_SECOND_LOOK,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"YuNet score threshold must be in [0, 1], got {score_threshold}")
        self._yuface = import_yuface()
        self.score_threshold = score_threshold
        self.detect_width = detect_width
        self.min_face = min_face
        self.threads = threads
        self.landmark_check = landmark_check
        self.second_look = second_look
        self._set_threads = openmp_thread_setter(self._yuface) if threads is not None else None

    def search(self, image: np.ndarray) -> YuNetOutput:
        """Every candidate YuNet reports on `image` as it is, in its pixels (no threshold)."""
        if self._set_threads is not None:
            self._set_threads(self.threads)  # per call: OpenMP keeps the count per thread
        # conf 0 keeps every candidate: the threshold is applied here, in one place.
        scores, boxes, points = self._yuface.detect(np.ascontiguousarray(image), 0.0)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
        return YuNetOutput(
            scores=np.asarray(scores, np.float64).reshape(-1) / 100.0,
            boxes=boxes,
            landmarks=np.asarray(points, np.float64).reshape(-1, 5, 2),
        )

    def raw(self, frame: np.ndarray) -> YuNetOutput:
        """Every candidate YuNet reports, in frame pixels (no threshold, no conversion); with a
        second look, unsure candidates carry the closer look's score."""
        check_frame(frame)
        h, w = frame.shape[:2]
        scale = working_scale(w, self.detect_width)
        image = frame
        if scale != 1.0:
            size = (self.detect_width, max(1, round(h * scale)))
            image = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        found = self.search(image)
        output = YuNetOutput(found.scores, found.boxes / scale, found.landmarks / scale)
        if self.second_look is not None:
            output = self.second_look.rescore(frame, output, self.search)
        return output

    def postprocess(self, output: YuNetOutput, frame_shape: tuple[int, ...]) -> list[Detection]:
        detections = []
        for score, box, points in zip(output.scores, output.boxes, output.landmarks, strict=True):
            if score < self.score_threshold or box[2] - box[0] < self.min_face:
                continue
            # On YuNet's own box: its landmarks were measured against it, and a face box
            # clamped at the frame's edge would no longer frame them.
            if self.landmark_check and not plausible_face(points, box):
                continue
            detection = face_detection(score, box, points, frame_shape)
            if detection is not None:
                detections.append(detection)
        return detections

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        return self.postprocess(self.raw(frame), frame.shape)
