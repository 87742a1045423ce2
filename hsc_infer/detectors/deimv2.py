"""DEIMv2 "wholebody34" ONNX detector, heads only (class 7).

Graph: the whole BGR frame as float32 [1, 3, H, W] in 0-255 (it resizes internally); output 0
is [1, K, 6] rows `[class_id, x1, y1, x2, y2, score]` normalised to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hsc_infer.detectors.base import Detection, check_frame
from hsc_infer.errors import ContractError
from hsc_infer.providers import create_session

HEAD_CLASS_ID = 7
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


class Deimv2Detector:
    kind = "head"

    def __init__(
        self,
        model_path: str | Path,
        provider: str = "cpu",
        score_threshold: float = 0.35,
        *,
        intra_op_threads: int | None = None,
        trt_cache_dir: str | Path = ".",
        trt_int8: bool = False,
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(f"DEIMv2 detector model not found: {model_path}")
        self.session = create_session(
            model_path,
            provider,
            intra_op_threads=intra_op_threads,
            trt_cache_dir=trt_cache_dir,
            trt_int8=trt_int8,
        )
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type not in _DTYPES:
            got = [(i.name, i.type, i.shape) for i in inputs]
            raise ContractError(
                f"not a DEIMv2 wholebody34 graph: expected one image input [1, 3, H, W], got {got}"
            )
        self.input_name = inputs[0].name
        self.input_dtype = _DTYPES[inputs[0].type]
        self.output_name = self.session.get_outputs()[0].name
        self.score_threshold = score_threshold
        # The last frame's raw rows, all 34 classes: what the whole-body rendering draws.
        self.last_rows = np.zeros((0, 6), np.float32)

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        check_frame(frame)
        return frame.transpose(2, 0, 1)[None].astype(self.input_dtype)  # (1, 3, H, W), 0-255

    def postprocess(self, rows: np.ndarray, frame_shape: tuple[int, ...]) -> list[Detection]:
        h, w = frame_shape[:2]
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, 6)
        keep = (rows[:, 0].round() == HEAD_CLASS_ID) & (rows[:, 5] >= self.score_threshold)
        detections = []
        for _, x1, y1, x2, y2, score in rows[keep]:
            # The reference's conversion, kept so boxes match it to the pixel.
            box = (
                int(max(0.0, x1) * w),
                int(max(0.0, y1) * h),
                int(min(x2, 1.0) * w),
                int(min(y2, 1.0) * h),
            )
            if box[2] > box[0] and box[3] > box[1]:
                detections.append(Detection(box=box, score=float(score), kind="head"))
        return detections

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        batch = self.preprocess(frame)
        try:
            outputs = self.session.run([self.output_name], {self.input_name: batch})
        except Exception as e:
            raise RuntimeError(f"DEIMv2 failed on a frame of shape {frame.shape}: {e}") from e
        self.last_rows = np.asarray(outputs[0][0], dtype=np.float32).reshape(-1, 6)
        return self.postprocess(self.last_rows, frame.shape)
