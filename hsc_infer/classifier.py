"""SmileClassifier: BGR uint8 crops in, smile probabilities out, one onnxruntime run per call.

Input contract: each crop is an OpenCV image, (H, W, 3) uint8 in BGR order, of any size; the
model's contract (its `hsc_contract` metadata, or the reference defaults) says how it is resized,
coloured and scaled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hsc_infer.contract import CONTRACT_METADATA_KEY, ModelContract, preprocess
from hsc_infer.errors import ContractError
from hsc_infer.providers import create_session
from hsc_infer.zoo import resolve_model

logger = logging.getLogger(__name__)

INPUT_NAME = "images"
OUTPUT_NAME = "prob_smiling"
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}

Crops = np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True, slots=True)
class GraphSignature:
    """What the loaded graph takes and gives, checked once at load time."""

    input_name: str
    input_dtype: type
    input_size: tuple[int, int]  # (H, W), static
    fixed_batch: int | None  # None when the batch axis is dynamic
    output_name: str


def _describe(arg: ort.NodeArg) -> str:
    return f"{arg.name!r} {arg.type} {arg.shape}"


def inspect_graph(session: ort.InferenceSession) -> GraphSignature:
    """Check the graph is a smile classifier: one float [batch, 3, H, W] input, one [batch] output.

    The canonical names are `images` and `prob_smiling` (ours and the reference release models');
    other names are accepted when the shapes fit, since they carry no meaning for a single-input,
    single-output graph.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    expected = (
        f"expected one input {INPUT_NAME!r} float32 [batch, 3, H, W] with static H, W and one "
        f"output {OUTPUT_NAME!r} float32 [batch] (or [batch, 1])"
    )
    received = (
        f"received inputs [{', '.join(map(_describe, inputs))}], "
        f"outputs [{', '.join(map(_describe, outputs))}]"
    )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ContractError(f"not a smile classifier graph: {expected}; {received}")
    inp, out = inputs[0], outputs[0]
    shape = inp.shape
    ok_input = (
        inp.type in _FLOAT_TYPES
        and len(shape) == 4
        and shape[1] == 3
        and all(isinstance(d, int) and d > 0 for d in shape[2:])
    )
    ok_output = out.type in _FLOAT_TYPES and (
        len(out.shape) == 1 or (len(out.shape) == 2 and out.shape[1] in (1, None, "1"))
    )
    if not (ok_input and ok_output):
        raise ContractError(f"not a smile classifier graph: {expected}; {received}")
    if inp.name != INPUT_NAME or out.name != OUTPUT_NAME:
        logger.info(
            "model uses names %r -> %r (canonical: images -> prob_smiling)", inp.name, out.name
        )
    fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    return GraphSignature(
        input_name=inp.name,
        input_dtype=_FLOAT_TYPES[inp.type],
        input_size=(shape[2], shape[3]),
        fixed_batch=fixed_batch,
        output_name=out.name,
    )


def read_contract(session: ort.InferenceSession, input_size: tuple[int, int]) -> ModelContract:
    """The model's contract from its metadata, or the reference defaults at the graph's size."""
    metadata = session.get_modelmeta().custom_metadata_map
    text = metadata.get(CONTRACT_METADATA_KEY)
    if text is None:
        return ModelContract(input_size=input_size)
    try:
        contract = ModelContract.from_json(text)
    except (ValueError, TypeError) as e:
        raise ContractError(
            f"model metadata {CONTRACT_METADATA_KEY!r} is not a valid contract: {e}"
        ) from e
    if tuple(contract.input_size) != tuple(input_size):
        raise ContractError(
            f"model contract says input_size {tuple(contract.input_size)} but the graph input is "
            f"{tuple(input_size)} (H, W)"
        )
    return contract


class SmileClassifier:
    """Smile probability for head (or face) crops, from an exported HSC ONNX model.

    `model_path`: an ONNX file, the name of a shipped model ("p", "s"), or None for the
    default shipped model (S, trained on FERPlus face crops).

    `provider`: "cpu", "cuda" (CUDA then CPU) or "tensorrt" (TensorRT, CUDA, CPU).
    `intra_op_threads`: onnxruntime's intra-op thread count (None: its default).
    `trt_cache_dir`, `trt_int8`: TensorRT engine cache folder and INT8 mode (needs a calibration
    table); FP16 is always on with TensorRT.
    `threshold`: overrides the contract's decision threshold.
    `flip_test`: average each crop's probability with its mirror image's (test-time
    augmentation): steadier on faces framed off-centre, at twice the classifier's work.

    Raises FileNotFoundError for a missing model, ContractError for a file that is not a smile
    classifier (or whose contract does not fit its graph), ProviderError for an unknown provider.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        provider: str = "cpu",
        *,
        intra_op_threads: int | None = None,
        trt_cache_dir: str | Path = ".",
        trt_int8: bool = False,
        threshold: float | None = None,
        flip_test: bool = False,
    ) -> None:
        model_path = resolve_model(model_path)
        self.flip_test = flip_test
        self.model_path = model_path
        self.session = create_session(
            model_path,
            provider,
            intra_op_threads=intra_op_threads,
            trt_cache_dir=trt_cache_dir,
            trt_int8=trt_int8,
        )
        try:
            self.signature = inspect_graph(self.session)
            contract = read_contract(self.session, self.signature.input_size)
        except ContractError as e:  # the graph's checks know the session, not the file
            raise ContractError(f"{e} (model {model_path})") from e
        self.contract = contract if threshold is None else contract.with_threshold(threshold)

    @property
    def threshold(self) -> float:
        return self.contract.threshold

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def preprocess(self, crops: Crops) -> np.ndarray:
        """BGR uint8 crop(s) -> the model's input batch (N, 3, H, W)."""
        batch = preprocess(crops, self.contract, colour_order="bgr", layout="NCHW")
        return batch.astype(self.signature.input_dtype, copy=False)

    def postprocess(self, output: np.ndarray, count: int) -> np.ndarray:
        """The graph's output -> float32 probabilities (N,)."""
        probs = np.asarray(output, dtype=np.float32).reshape(-1)
        if probs.shape[0] != count:
            raise ContractError(f"model returned {probs.shape[0]} probabilities for {count} crops")
        return probs

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One onnxruntime run on a preprocessed batch (split only for a fixed-batch graph)."""
        fixed = self.signature.fixed_batch
        if fixed is not None and batch.shape[0] != fixed:
            if fixed != 1:
                got = f"{batch.shape[0]} crops"
                if self.flip_test:
                    got += " (each crop and its mirror image: --no-flip_test sends half as many)"
                raise ContractError(
                    f"model {self.model_path} has a fixed batch of {fixed}; got {got} "
                    "(export it with a dynamic batch)"
                )
            return np.concatenate(
                [self.run(batch[i : i + 1]).reshape(-1) for i in range(len(batch))]
            )
        try:
            (output,) = self.session.run(
                [self.signature.output_name], {self.signature.input_name: batch}
            )
        except Exception as e:
            raise RuntimeError(
                f"onnxruntime failed on a batch of shape {batch.shape} {batch.dtype} "
                f"(model {self.model_path.name} expects [batch, 3, "
                f"{self.signature.input_size[0]}, {self.signature.input_size[1]}]): {e}"
            ) from e
        return output

    def predict(self, crops: Crops) -> np.ndarray:
        """Smile probability per crop: one (H, W, 3) BGR uint8 array or a list of any sizes."""
        if not isinstance(crops, np.ndarray) and len(crops) == 0:
            return np.empty((0,), dtype=np.float32)
        batch = self.preprocess(crops)
        count = batch.shape[0]
        if not self.flip_test:
            return self.postprocess(self.run(batch), count)
        # A mirrored face smiles as much as the face; one run on both halves the cost of a
        # second call.
        both = np.concatenate([batch, batch[..., ::-1]])
        probs = self.postprocess(self.run(both), 2 * count)
        return (probs[:count] + probs[count:]) / 2

    def is_smiling(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(probs) >= self.threshold

    __call__ = predict

    def __repr__(self) -> str:
        h, w = self.signature.input_size
        return (
            f"SmileClassifier({self.model_path.name}, {h}x{w}, threshold={self.threshold:.3f}, "
            f"flip_test={self.flip_test}, "
            f"providers={self.providers})"
        )
