"""`hsc-jax export` (alias `exportonnx`): a checkpoint -> a verified ONNX model; `hsc-jax
export-yunet`: libfacedetection's YuNet weights -> the face detector hsc_infer ships."""

from __future__ import annotations

from pathlib import Path

import click

from hsc_jax.cli_support import CONTEXT_SETTINGS, device_option, user_errors


def _describe(report) -> str:
    diffs = ", ".join(f"batch {b}: {d:.2g}" for b, d in sorted(report.max_abs_diff.items()))
    return (
        f"wrote {report.path} (opset {report.opset}, {report.node_count} nodes, "
        f"{report.file_bytes / 1024:.0f} KB, threshold {report.contract.threshold:.4f}"
        + (f"; max |onnxruntime - JAX| {diffs}" if diffs else "")
        + ")"
    )


@click.command("export", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--checkpoint",
    required=True,
    type=click.Path(path_type=Path),
    help="A checkpoint folder, or a run folder (its newest best checkpoint is used).",
)
@click.option(
    "--output", required=True, type=click.Path(path_type=Path), help="ONNX file to write."
)
@click.option(
    "--opset", default=17, show_default=True, type=click.IntRange(17, 23), help="ONNX opset."
)
@click.option(
    "--threshold",
    default=None,
    type=click.FloatRange(0.0, 1.0),
    help="Decision threshold for the contract (default: the checkpoint's F1-optimal one).",
)
@click.option("--fp16", is_flag=True, help="Store weights in float16 (input/output stay float32).")
@click.option("--int8", is_flag=True, help="Static int8 quantisation (onnxruntime).")
@click.option(
    "--calibration_data",
    default=None,
    type=click.Path(path_type=Path),
    help="Parquet dataset for int8 calibration and accuracy reports when the checkpoint's "
    "dataset is not reachable.",
)
@device_option
def export(
    checkpoint: Path,
    output: Path,
    opset: int,
    threshold: float | None,
    fp16: bool,
    int8: bool,
    calibration_data: Path | None,
    device: str,
) -> None:
    """Export a checkpoint to ONNX (float32, verified against JAX, unless --fp16/--int8)."""
    if fp16 and int8:
        raise click.UsageError("choose at most one of --fp16 and --int8")
    if not checkpoint.exists():
        raise click.ClickException(
            f"checkpoint {checkpoint} does not exist; pass a checkpoint folder "
            "(hsc_epoch_NNNN or hsc_best_...) or a run folder holding one"
        )
    from hsc_jax.devices import on_device
    from hsc_jax.export.exporter import export_onnx
    from hsc_jax.train.checkpoint import load_checkpoint

    with user_errors(), on_device(device):
        with user_errors(f"cannot load checkpoint {checkpoint}: "):
            loaded = load_checkpoint(checkpoint, depthwise="grouped")
        common = dict(
            model=loaded.model,
            image_size=loaded.image_size,
            contract=loaded.contract,
            opset=opset,
            threshold=threshold,
            training_config=loaded.train_config,
        )
        if not (fp16 or int8):
            report = export_onnx(output=output, **common)
            click.echo(_describe(report))
            return
        from hsc_jax.export.reduced import export_reduced_precision

        summary = export_reduced_precision(
            output, "fp16" if fp16 else "int8", calibration_data=calibration_data, **common
        )
    click.echo(summary)


@click.command("export-yunet", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--weights",
    required=True,
    type=click.Path(path_type=Path),
    help="libfacedetection's src/facedetectcnn-data.cpp (the YuNet weights as C++ arrays).",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="ONNX file to write (the shipped one: hsc_infer/models/yunet_face.onnx).",
)
@click.option(
    "--opset", default=17, show_default=True, type=click.IntRange(17, 23), help="ONNX opset."
)
def export_yunet(weights: Path, output: Path, opset: int) -> None:
    """Export libfacedetection's YuNet face detector to ONNX (verified against JAX)."""
    from hsc_jax.export.yunet import export_yunet as run_export

    with user_errors():
        report = run_export(weights, output, opset)
    diffs = ", ".join(f"{name}: {d:.2g}" for name, d in report.max_abs_diff.items())
    click.echo(
        f"wrote {report.path} (opset {report.opset}, {report.node_count} nodes, "
        f"{report.file_bytes / 1024:.0f} KB; max |onnxruntime - JAX| {diffs})"
    )
