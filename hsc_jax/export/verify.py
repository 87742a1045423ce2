"""The float32 parity check: onnxruntime against the JAX model in eval mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx

from hsc_jax.errors import ExportMismatchError

DEFAULT_TOLERANCE = 1e-4  # max abs difference on probabilities
DEFAULT_BATCH_SIZES = (7, 1)


def onnx_session(model: onnx.ModelProto | str, threads: int | None = None):
    """A CPU onnxruntime session on a model proto or path."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def random_images(batch: int, image_size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """float32 NCHW in [0, 1], what `hsc_infer.preprocess` feeds."""
    h, w = image_size
    return np.random.default_rng(seed).random((batch, 3, h, w), dtype=np.float32)


def max_differences(
    model: onnx.ModelProto | str,
    reference_fn: Callable[[np.ndarray], np.ndarray],
    image_size: tuple[int, int],
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    seed: int = 0,
) -> dict[int, float]:
    """batch size -> max |onnxruntime - reference| of `prob_smiling` on random images."""
    session = onnx_session(model)
    input_name = session.get_inputs()[0].name
    batches = [random_images(batch, image_size, seed + i) for i, batch in enumerate(batch_sizes)]
    # One reference call on all images: eval mode treats samples independently, and one
    # compiled shape is much cheaper than one per batch size.
    expected_all = np.asarray(reference_fn(np.concatenate(batches)), dtype=np.float32)
    expected_batches = np.split(expected_all, np.cumsum(batch_sizes)[:-1])
    out: dict[int, float] = {}
    for images, expected in zip(batches, expected_batches, strict=True):
        (got,) = session.run(None, {input_name: images})
        if got.shape != expected.shape:
            raise ExportMismatchError(
                f"onnxruntime returned shape {got.shape} for batch {len(images)}; the JAX model "
                f"returned {expected.shape}"
            )
        out[len(images)] = float(np.max(np.abs(got.astype(np.float32) - expected)))
    return out


def check_parity(differences: dict[int, float], tolerance: float = DEFAULT_TOLERANCE) -> None:
    """Raise ExportMismatchError when any batch differs by more than `tolerance`."""
    bad = {b: d for b, d in differences.items() if not d <= tolerance}
    if bad:
        detail = ", ".join(f"batch {b}: {d:.3g}" for b, d in sorted(bad.items()))
        raise ExportMismatchError(
            f"exported model disagrees with the JAX model in eval mode beyond {tolerance:g} "
            f"(max abs difference of probabilities: {detail}); no file was written"
        )
