"""YuNet, libfacedetection's CNN face detector, as the project's own ONNX model.

The network is a port of libfacedetection's (BSD; `hsc_jax/models/yunet.py`) exported with its
published weights to `hsc_infer/models/yunet_face.onnx` (`hsc-jax export-yunet`; licence
beside it in `yunet_face.LICENSE`), and runs on onnxruntime like the classifier, on every
platform onnxruntime installs on. Padding, decoding and NMS are numpy
(`detectors/yunet_decode.py`); they reproduce the `yuface` wheel's detections (boxes within
about a pixel, scores within 0.01), which `detectors/yuface_engine.py` keeps for comparison.

Its boxes run from the hairline to below the chin; they are converted to the project's face box
(`yunet_to_face`), so a YuNet detection crops like a Haar one (`crops.py` then applies the
model's contract). Settings are chosen by the face-path benchmark
(docs/face-path-benchmark.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from hsc_infer.detectors.base import Detection, check_frame, clamp_box, working_scale
from hsc_infer.detectors.landmarks import plausible_face
from hsc_infer.detectors.second_look import SecondLook
from hsc_infer.detectors.yunet_decode import (
    INPUT_NAME,
    OUTPUT_NAMES,
    YUNET_CONTRACT_KEY,
    YuNetContract,
    YuNetOutput,
    decode,
    to_input,
)
from hsc_infer.errors import ContractError
from hsc_infer.providers import ShapeProfile, create_session

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "models" / "yunet_face.onnx"
# TensorRT builds one engine for every input size between a second look's 32x32 patch and a
# 1920x1920 frame (landscape or portrait, after `detect_width`), tuned for a 640x480 one, and for
# batches of up to 8 frames (`MAX_BATCH`).
TENSORRT_PROFILE = ShapeProfile("images", (1, 3, 32, 32), (1, 3, 480, 640), (8, 3, 1920, 1920))
MAX_BATCH = TENSORRT_PROFILE.largest[0]

# Chosen on the face-path benchmark's v2 dev scenes and checked on its held-out half
# (docs/face-path-benchmark.md, "YuNet on onnxruntime", 2026-12-07; three seeds, 1,671 faces
# each). On onnxruntime the search costs a quarter of yuface's, so the whole 640x480 frame now
# fits the budget: on dev it finds 96.0 % of the faces at score 0.6, against 94.1 % at 512 px
# and 0.5 (the earlier default), for 0.055 against 0.053 false boxes per frame; the faces a
# narrower search loses are those of 60-90 px. On held-out: 96.8 % (every seed >= 96.6 %),
# 0.018 false boxes per frame, 8.4-9.5 ms median with the second look, one thread, 2-core
# Intel Xeon. Frames wider than 640 px are shrunk to it.
DEFAULT_DETECT_WIDTH = 640
DEFAULT_SCORE_THRESHOLD = 0.6
DEFAULT_MIN_FACE = 32  # frame pixels: smaller boxes on a 640x480 frame are texture, not faces
# Two onnxruntime threads, their pool not spinning: on the held-out scenes at 640 px, 8.1 ms
# median and 10.2 ms p95 against 9.7 and 11.9 with one; inside the demo's loop, with the
# classifier, tracking and video I/O beside it, 7.4 / 9.0 ms against 8.3 / 9.7; predict --detect
# 103 against 91 photographs a second (2-core Intel Xeon, 2026-12-07). yuface's OpenMP threads
# had stalled in the demo (p95 over 400 ms); these do not. With the detector on the demo's own
# thread, one and two give the same FPS.
DEFAULT_THREADS = 2
# The landmark layout check (detectors/landmarks.py) is off by default: YuNet's false boxes
# (a motorbike's headlight, galaxies, a cat's eye; docs/face-path-benchmark.md, 2026-12-06)
# come with face-like landmarks, so bounds loose enough to keep every true face removed none of
# them at score 0.5 or 0.6 on 1,000 benchmark frames, and one of 63 at 0.45.
DEFAULT_LANDMARK_CHECK = False
# A closer look at candidates scored 0.3-0.7 (detectors/second_look.py).
DEFAULT_SECOND_LOOK: SecondLook | None = SecondLook()

# YuNet's box (hairline to below the chin, about 1.25x taller than wide) -> the face box: a square
# of 0.9 YuNet heights on the same centre. On about 300 FERPlus faces pasted into photographs,
# where the true box is the crop the model was trained on (`python -m benchmarks.face_path.run
# --calibrate`), the true side is 0.97-1.00 YuNet heights (median at 448 and 320 px; the height
# varies least of the candidates tried: YuNet's width, the eye-mouth and eye-eye distances) and
# the true centre sits on YuNet's. But a pasted crop has no hair or forehead around it for YuNet's box to reach; on
# the astronaut, the one real face in context, the Haar face box is 0.87 YuNet heights. 0.9
# frames real faces like Haar and FER, and scores as well on the pasted ones (S's accuracy on
# the found faces: 93.8 % at 0.9, 93.5 % at 1.0; on the original crops: 92.8 %).
YUNET_SIDE_PER_HEIGHT = 0.9


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


def session_threads(threads: int | None) -> dict:
    """`create_session` settings for `threads` onnxruntime intra-op threads (None: one per
    core). Spinning is off wherever a pool exists: spinning threads take the core the
    classifier, video decoding or the frame reader needs between detector runs."""
    return {"intra_op_threads": threads, "allow_spinning": threads == 1}


def read_contract(session: ort.InferenceSession, model_path: Path) -> YuNetContract:
    """The model's `yunet_contract`, with its input and outputs checked."""
    inputs = [(i.name, i.type, len(i.shape)) for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != [(INPUT_NAME, "tensor(float)", 4)] or outputs != list(OUTPUT_NAMES):
        raise ContractError(
            f"{model_path} is not a YuNet face graph: expected input {INPUT_NAME} float "
            f"[B, 3, H, W] and outputs {list(OUTPUT_NAMES)}, got inputs {inputs} and "
            f"outputs {outputs}"
        )
    text = session.get_modelmeta().custom_metadata_map.get(YUNET_CONTRACT_KEY)
    if text is None:
        raise ContractError(f"{model_path} has no {YUNET_CONTRACT_KEY} metadata")
    return YuNetContract.from_json(text, where=str(model_path))


def working_image(frame: np.ndarray, detect_width: int | None) -> tuple[np.ndarray, float]:
    """The frame as YuNet searches it (shrunk to `detect_width` when wider), and the factor."""
    h, w = frame.shape[:2]
    scale = working_scale(w, detect_width)
    if scale == 1.0:
        return frame, scale
    size = (detect_width, max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), scale


class YuNetFaceDetector:
    """Frontal and half-profile faces as `kind="face"` detections with 5 landmarks.

    `detect_width`: frames wider than this are searched at this width (boxes scaled back);
    YuNet's cost grows with the pixel count (the whole call with the second look, one
    onnxruntime thread, 2-core Xeon: about 3.1 ms at 320x240, 5.1 ms at 448x336, 6.2 ms at
    512x384, 9.3 ms at 640x480), and faces under about 50 px at the working size are often
    missed.
    `score_threshold`: YuNet's confidence in [0, 1]. `min_face`: boxes narrower than this many
    frame pixels are dropped. `threads`: onnxruntime intra-op threads (None: onnxruntime's
    default, one per core), fixed for the detector's life; with more than one, the pool's
    threads sleep rather than spin between runs. `landmark_check`: drop candidates whose landmarks no face could have (eyes
    below the mouth, points on a line, far outside the box: `landmarks.plausible_face`); off by
    default, since it removed none of the benchmark's false boxes at the default score.
    `second_look`: how candidates YuNet is unsure of are looked at again on a patch around them
    (`second_look.SecondLook`); None searches once.
    `model_path`: a YuNet ONNX file (None: the shipped one); `provider` and `trt_cache_dir`:
    onnxruntime's execution provider (`providers.py`).
    """

    kind = "face"
    # Frames of one size `detect_batch` searches in one run. One: on the CPU, 8 per run was
    # slower (71 against 91 photographs a second with one thread, 93 against 103 with two;
    # `python -m benchmarks.inference.predict_detect`, 2-core Intel Xeon, 2026-12-07). On a GPU
    # provider more may pay (TensorRT's shape profile takes up to 8); `predict --detect-batch`.
    batch_size = 1

    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        detect_width: int | None = DEFAULT_DETECT_WIDTH,
        min_face: int = DEFAULT_MIN_FACE,
        threads: int | None = DEFAULT_THREADS,
        landmark_check: bool = DEFAULT_LANDMARK_CHECK,
        second_look: SecondLook | None = DEFAULT_SECOND_LOOK,
        *,
        model_path: str | Path | None = None,
        provider: str = "cpu",
        trt_cache_dir: str | Path = ".",
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"YuNet score threshold must be in [0, 1], got {score_threshold}")
        if threads is not None and threads < 1:
            raise ValueError(f"YuNet threads must be >= 1 (or None), got {threads}")
        self.model_path = Path(model_path) if model_path is not None else SHIPPED_MODEL
        if not self.model_path.is_file():
            hint = (
                " (it ships with hsc_infer: reinstall hsc-jax, or pick the Haar detector with -m "
                "haar)"
                if model_path is None
                else ""
            )
            raise FileNotFoundError(f"YuNet face model not found: {self.model_path}{hint}")
        self.session = create_session(
            self.model_path,
            provider,
            trt_cache_dir=trt_cache_dir,
            trt_profile=TENSORRT_PROFILE,
            **session_threads(threads),
        )
        self.contract = read_contract(self.session, self.model_path)
        self.score_threshold = score_threshold
        self.detect_width = detect_width
        self.min_face = min_face
        self._threads = threads
        self.landmark_check = landmark_check
        self.second_look = second_look

    @property
    def threads(self) -> int | None:
        """onnxruntime intra-op threads, fixed when the session is made."""
        return self._threads

    def search_batch(self, images: np.ndarray | Sequence[np.ndarray]) -> list[YuNetOutput]:
        """Every candidate YuNet reports on each of several same-sized BGR uint8 images, in one
        onnxruntime run, in each image's own pixels (no threshold but the contract's 0.2)."""
        if not isinstance(images, np.ndarray):
            shapes = {np.shape(image) for image in images}
            if len(shapes) > 1:
                raise ContractError(f"search_batch needs same-sized images, got {sorted(shapes)}")
            batch = np.stack(images) if images else np.zeros((0, 1, 1, 3), np.uint8)
        else:
            batch = images
        if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
            raise ContractError(
                f"YuNet searches (B, H, W, 3) uint8 BGR images, got {batch.dtype} {batch.shape}"
            )
        if len(batch) == 0:
            return []
        inputs = to_input(batch, self.contract.pad_multiple)
        scores, boxes, landmarks = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: inputs})
        size = inputs.shape[2:]
        try:
            return [
                decode(s, b, p, size, self.contract)
                for s, b, p in zip(scores, boxes, landmarks, strict=True)
            ]
        except ContractError as e:
            raise ContractError(f"YuNet model {self.model_path}: {e}") from e

    def search(self, image: np.ndarray) -> YuNetOutput:
        """Every candidate YuNet reports on `image` as it is, in its pixels (no threshold but
        the contract's 0.2)."""
        return self.search_batch(image[None])[0]

    def _working_image(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        check_frame(frame)
        return working_image(frame, self.detect_width)

    def _in_frame(self, frame: np.ndarray, found: YuNetOutput, scale: float) -> YuNetOutput:
        """A search's output in frame pixels, unsure candidates looked at again."""
        output = YuNetOutput(found.scores, found.boxes / scale, found.landmarks / scale)
        if self.second_look is not None:
            output = self.second_look.rescore(frame, output, self.search)
        return output

    def raw(self, frame: np.ndarray) -> YuNetOutput:
        """Every candidate YuNet reports, in frame pixels (no threshold, no conversion); with a
        second look, unsure candidates carry the closer look's score."""
        image, scale = self._working_image(frame)
        return self._in_frame(frame, self.search(image), scale)

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Each frame's detections, as `__call__` gives them; frames of one size are searched
        together, in one onnxruntime run per `batch_size` of them."""
        detections: list[list[Detection]] = [[] for _ in frames]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, frame in enumerate(frames):
            check_frame(frame)
            by_shape.setdefault(frame.shape, []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                working = [self._working_image(frames[i]) for i in chunk]
                found = self.search_batch([image for image, _ in working])
                for i, (_, scale), output in zip(chunk, working, found, strict=True):
                    raw = self._in_frame(frames[i], output, scale)
                    detections[i] = self.postprocess(raw, frames[i].shape)
        return detections

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
