"""The jax2onnx call: an HSC model wrapped as NCHW images -> smile probability.

The exported function takes what `hsc_infer` feeds (float32 [batch, 3, H, W] in [0, 1]),
transposes to the model's NHWC, and applies the sigmoid, so the graph outputs probabilities.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from flax import nnx

from hsc_jax.export.converter_plugins import load_converter_plugins
from hsc_jax.models import set_depthwise

INPUT_NAME = "images"
OUTPUT_NAME = "prob_smiling"
BATCH_DIM = "batch"


def export_ready_copy(model: nnx.Module) -> nnx.Module:
    """A copy in eval mode with plain (grouped) convolutions; the caller's model is untouched.

    Eval mode is forced because a train-mode model exports silently wrong (batch statistics and
    dropout); the grouped form is what gives ordinary Conv nodes (the slice form explodes).
    """
    copy = nnx.clone(model)
    set_depthwise(copy, "grouped")
    copy.eval()
    return copy


def probability_fn(model: nnx.Module) -> Callable[[jax.Array], jax.Array]:
    """images (B, 3, H, W) NCHW -> sigmoid(logits) (B,), for an eval-mode model."""

    def prob_smiling(images: jax.Array) -> jax.Array:
        nhwc = jnp.transpose(images, (0, 2, 3, 1))  # (B, H, W, 3)
        return jax.nn.sigmoid(model(nhwc))  # (B,)

    return prob_smiling


def jax_probabilities(model: nnx.Module) -> Callable[[np.ndarray], np.ndarray]:
    """The compiled reference: NCHW images (numpy) -> probabilities (numpy), for verification."""

    @nnx.jit
    def run(model: nnx.Module, images: jax.Array) -> jax.Array:
        return probability_fn(model)(images)

    return lambda images: np.asarray(run(model, jnp.asarray(images)))


def convert_to_onnx(model: nnx.Module, image_size: tuple[int, int], opset: int) -> onnx.ModelProto:
    """Raw jax2onnx output (before the fixes in `graph_fixes`) for an export-ready model."""
    from jax2onnx import to_onnx  # heavy import, only when exporting

    load_converter_plugins()  # without the plugin trees HSC models never use
    h, w = image_size
    # jax2onnx's own deprecation warnings and onnx_ir's notes about untyped shape constants
    # concern the converter's internals, not the model: keep them out of the user's console.
    serde_log = logging.getLogger("onnx_ir.serde")
    previous_level = serde_log.level
    serde_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"jax2onnx")
            return to_onnx(
                probability_fn(model),
                [(BATCH_DIM, 3, int(h), int(w))],
                model_name="hsc_smile_classifier",
                opset=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                # Native LayerNormalization (opset 17) instead of a ~25-node decomposition per norm;
                # the parity check guards the accuracy.
                normalization_mode="prefer_native",
            )
    finally:
        serde_log.setLevel(previous_level)
