"""YuNet's input and output in numpy: padding, the contract stored in the model, decoding, NMS.

The ONNX graph (`hsc_infer/models/yunet_face.onnx`, exported by `hsc-jax export-yunet`) runs
the network only: BGR 0-255 float32 NCHW in, the score and the raw box and landmark regression
of every cell of the three pyramid levels out. What libfacedetection does around its network
(`facedetectcnn.cpp`: priors, box and landmark decoding, the candidate threshold, top-k and NMS)
happens here, with the constants read from the model's `yunet_contract` metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np

from hsc_infer.errors import ContractError

YUNET_CONTRACT_KEY = "yunet_contract"
INPUT_NAME = "images"
OUTPUT_NAMES = ("scores", "boxes", "landmarks")
NUM_LANDMARKS = 5


@dataclass(frozen=True, slots=True)
class YuNetOutput:
    """YuNet's own output in the pixels of the image searched, before any conversion."""

    scores: np.ndarray  # (N,) in [0, 1]
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    landmarks: np.ndarray  # (N, 5, 2) x, y


@dataclass(frozen=True)
class YuNetContract:
    """What the YuNet graph expects and how its outputs are decoded (libfacedetection's
    `objectdetect_cnn` and `detection_output`); stored as JSON in the model's metadata."""

    pad_multiple: int = 32
    strides: tuple[int, ...] = (8, 16, 32)
    candidate_threshold: float = 0.2  # scores below are never candidates
    nms_iou: float = 0.45  # a candidate overlapping a kept one by more is dropped
    top_k: int = 1000  # best candidates that enter NMS
    keep_top_k: int = 512  # detections kept after NMS
    # Descriptions for readers of the file; the numbers above are what decoding uses.
    colour: str = "BGR"
    scaling: str = "raw 0-255 values as float32 (no mean, no scale)"
    layout: str = "NCHW [B, 3, H, W]; B, H and W dynamic"
    padding: str = (
        "pad with zeros at the bottom and right to multiples of pad_multiple; the graph crops "
        "any other size down to a multiple"
    )
    outputs: str = (
        "scores [B, N], boxes [B, N, 4], landmarks [B, N, 10]; N = sum over the strides s of "
        "(H / s) * (W / s)"
    )
    cell_order: str = "strides in the order listed; each level's cells row-major (y, then x)"
    score: str = "sqrt(sigmoid(cls) * sigmoid(obj)), computed in the graph"
    box: str = (
        "raw (dx, dy, dw, dh): centre = (dx, dy) * stride + cell corner (x * stride, y * "
        "stride), no half-cell offset; size = exp(dw, dh) * stride"
    )
    landmarks: str = (
        "raw (dx, dy) x 5: point = (dx, dy) * stride + cell corner; right eye, left eye, nose "
        "tip, right and left mouth corner"
    )
    nms: str = (
        "candidates at score >= candidate_threshold, stable-sorted by score, best top_k kept; "
        "greedy: a candidate is kept when its IoU with every kept box is <= nms_iou; then "
        "keep_top_k"
    )
    box_convention: str = "x1, y1, x2, y2 in input pixels; YuNet's box, hairline to below the chin"
    source: str = ""
    licence: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "the model") -> YuNetContract:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ContractError(f"{where}: {YUNET_CONTRACT_KEY} is not JSON ({e})") from e
        if not isinstance(data, dict):
            raise ContractError(f"{where}: {YUNET_CONTRACT_KEY} is not a JSON object")
        known = {f.name for f in fields(cls)}
        try:
            contract = cls(**{k: v for k, v in data.items() if k in known})
            contract = _typed(contract)
        except (TypeError, ValueError) as e:
            raise ContractError(f"{where}: bad {YUNET_CONTRACT_KEY} ({e})") from e
        return contract


def _typed(contract: YuNetContract) -> YuNetContract:
    """The numbers as their types (JSON gives lists and may give ints for floats), checked."""
    typed = YuNetContract(
        **{
            **asdict(contract),
            "pad_multiple": int(contract.pad_multiple),
            "strides": tuple(int(s) for s in contract.strides),
            "candidate_threshold": float(contract.candidate_threshold),
            "nms_iou": float(contract.nms_iou),
            "top_k": int(contract.top_k),
            "keep_top_k": int(contract.keep_top_k),
        }
    )
    if not typed.strides or any(typed.pad_multiple % s for s in typed.strides):
        raise ValueError(f"strides {typed.strides} must divide pad_multiple {typed.pad_multiple}")
    return typed


def padded_size(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def to_input(images: np.ndarray, multiple: int) -> np.ndarray:
    """(B, H, W, 3) uint8 BGR -> (B, 3, H', W') float32 0-255, zero-padded at the bottom and
    right to multiples of `multiple` (what libfacedetection's input conversion does)."""
    b, h, w, _ = images.shape
    batch = np.zeros((b, 3, padded_size(h, multiple), padded_size(w, multiple)), np.float32)
    batch[:, :, :h, :w] = images.transpose(0, 3, 1, 2)
    return batch


def priors(height: int, width: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cell corners (N, 2) x, y and strides (N, 1) of an input of `height` x `width` (multiples
    of every stride), in the graph's cell order."""
    corners, scales = [], []
    for stride in strides:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        corners.append(np.stack([xs.ravel(), ys.ravel()], axis=1) * stride)
        scales.append(np.full((xs.size, 1), stride))
    return (
        np.concatenate(corners).astype(np.float32),
        np.concatenate(scales).astype(np.float32),
    )


def nms(boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS over `boxes` (x1, y1, x2, y2) already sorted best first: a box
    is kept when its IoU with every box kept before it is <= `iou_threshold`."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    alive = np.ones(len(boxes), bool)
    kept = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        kept.append(i)
        rest = np.arange(i + 1, len(boxes))[alive[i + 1 :]]
        if rest.size == 0:
            break
        inter_w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        inter_h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        # libfacedetection counts an overlap only where both sides are positive.
        overlap = (inter_w > 0) & (inter_h > 0)
        inter = np.where(overlap, inter_w * inter_h, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(overlap, inter / (areas[i] + areas[rest] - inter), 0.0)
        alive[rest[iou > iou_threshold]] = False
    return np.asarray(kept, dtype=np.int64)


def decode(
    scores: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    input_size: tuple[int, int],
    contract: YuNetContract,
) -> YuNetOutput:
    """One image's graph outputs (scores (N,), boxes (N, 4), landmarks (N, 10)) on an input of
    `input_size` (H, W, padded) -> its detections, best first, in input pixels."""
    corners, strides = priors(*input_size, contract.strides)
    if len(scores) != len(corners):
        raise ContractError(
            f"the YuNet graph returned {len(scores)} cells for a {input_size[0]}x{input_size[1]} "
            f"input; strides {contract.strides} give {len(corners)}"
        )
    candidates = np.flatnonzero(scores >= contract.candidate_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")][: contract.top_k]
    corners, strides = corners[order], strides[order]
    centre = boxes[order, :2] * strides + corners
    size = np.exp(boxes[order, 2:]) * strides
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    points = landmarks[order].reshape(-1, NUM_LANDMARKS, 2) * strides[:, None] + corners[:, None]
    kept = nms(xyxy, contract.nms_iou)[: contract.keep_top_k]
    return YuNetOutput(
        scores=scores[order][kept].astype(np.float64),
        boxes=xyxy[kept].astype(np.float64),
        landmarks=points[kept].astype(np.float64),
    )
