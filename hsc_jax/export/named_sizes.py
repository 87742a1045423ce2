"""The named sizes p..l (the reference zoo: inverted_se + avgmax_mlp, C = 32) exported to ONNX.

    report = export_named_size("s", "runs/named_onnx")              # random weights, verified
    report = export_named_size("s", "out", checkpoint="runs/s/")     # a trained s

Random-init weights are enough for latency and size; every export is verified against JAX.
`scripts/export_named_sizes.py` is the command line over this module.
"""

from __future__ import annotations

from pathlib import Path

from hsc_jax.export.exporter import DEFAULT_OPSET, ExportReport, export_onnx
from hsc_jax.models import NAMED_SIZES, create_model

NAMED_SIZE_IMAGE = (48, 48)  # (H, W): the zoo's input size


def named_size_path(output_dir: str | Path, name: str) -> Path:
    """Where `export_named_size` writes size `name`: OUTPUT_DIR/hsc_{name}_48x48.onnx."""
    h, w = NAMED_SIZE_IMAGE
    return Path(output_dir) / f"hsc_{name}_{h}x{w}.onnx"


def export_named_size(
    name: str,
    output_dir: str | Path,
    checkpoint: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
) -> ExportReport:
    """Export named size `name` to `named_size_path(output_dir, name)`.

    `checkpoint`: a checkpoint or run folder of that size (its weights and contract); None
    exports the size with random weights (seed 0) and the reference contract.
    """
    if name not in NAMED_SIZES:
        raise ValueError(f"no named size {name!r}; the sizes are {list(NAMED_SIZES)}")
    contract = None
    if checkpoint is not None:
        from hsc_jax.train.checkpoint import load_checkpoint

        loaded = load_checkpoint(checkpoint, depthwise="grouped")
        model, contract = loaded.model, loaded.contract
    else:
        model = create_model(NAMED_SIZES[name], image_size=NAMED_SIZE_IMAGE, seed=0)
    return export_onnx(model, NAMED_SIZE_IMAGE, contract, named_size_path(output_dir, name), opset)
