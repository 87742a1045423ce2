"""`hsc-jax data ...`: build, synthesise and inspect datasets. Each command wraps one function."""

from __future__ import annotations

from pathlib import Path

import click

from hsc_infer.labels import IMAGE_SUFFIXES
from hsc_infer.providers import PROVIDER_CHOICES
from hsc_jax.cli_support import CONTEXT_SETTINGS, user_errors
from hsc_jax.data.build import build_parquet, parse_extensions
from hsc_jax.data.inspection import inspect_dataset
from hsc_jax.data.labels import CLASS_NAMES, normalise_split, resolve_labels


@click.group("data", context_settings=CONTEXT_SETTINGS)
def data() -> None:
    """Build, synthesise and inspect parquet datasets."""


@data.command("build")
@click.option(
    "--root",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder holding {train,validation,val,test}/{smiling,no_smiling}/ images.",
)
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Parquet file."
)
@click.option(
    "--skip_bad_rows", is_flag=True, help="Leave undecodable images out instead of failing."
)
@click.option(
    "--extensions",
    default=",".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES)),
    show_default=True,
    help="Image file extensions to take, comma separated (any case).",
)
def build_command(root: Path, output: Path, skip_bad_rows: bool, extensions: str) -> None:
    """Embed a folder tree of labelled images into one parquet file."""
    with user_errors():
        wanted = parse_extensions(extensions)
        report = build_parquet(root, output, skip_bad_rows=skip_bad_rows, extensions=wanted)
    click.echo(report.format())


@data.command("synth")
@click.option(
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Parquet file; with --shards, a folder of part-*.parquet files.",
)
@click.option("--count", default=512, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--shards",
    default=None,
    type=click.IntRange(min=1),
    help="Write the set as this many parquet shards, one at a time (any size fits in memory).",
)
@click.option(
    "--image_size", default=64, show_default=True, type=click.IntRange(min=16), help="Pixels."
)
def synth_command(output: Path, count: int, seed: int, shards: int | None, image_size: int) -> None:
    """Write procedural smiling / not smiling heads (split 'unassigned') for tests and demos."""
    from hsc_jax.data import synth  # drawing code loads only when asked

    if shards is not None:
        with user_errors():
            written = synth.write_synthetic_shards(
                output, count, seed, shards, image_size=image_size
            )
        click.echo(f"wrote {count} rows in {len(written)} shards to {output}")
        return
    if output.is_dir():
        raise click.BadParameter(
            f"{output} is a folder: give a file, or --shards", param_hint="--output"
        )
    with user_errors():
        frame = synth.write_synthetic_parquet(output, count, seed, image_size=image_size)
    labels = resolve_labels(frame).labels
    splits = frame["split"].map(normalise_split) if "split" in frame.columns else None
    click.echo(f"wrote {len(frame)} rows to {output}")
    for class_id, name in enumerate(CLASS_NAMES):
        click.echo(f"  {name:<11} {int((labels == class_id).sum())}")
    if splits is not None:
        click.echo("  splits: " + ", ".join(f"{k} {v}" for k, v in splits.value_counts().items()))


@data.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
def inspect_command(path: Path) -> None:
    """Counts per split and class, groups, image sizes, duplicates and bad rows of a dataset.

    Problems in rows are reported and the exit status stays 0; an unreadable file fails.
    """
    with user_errors():
        report = inspect_dataset(path)
    click.echo(report.format())


@data.command("crop-heads")
@click.option(
    "--input-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of videos named smiling* / no_smiling* (mp4, avi, mov, mkv, webm).",
)
@click.option(
    "--output-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Split folder to fill, e.g. ROOT/train: crops go to <label>/<video>_f<frame>.png.",
)
@click.option(
    "--detector-model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DEIMv2 wholebody34 ONNX; default: the bundled face detector (YuNet's shipped ONNX "
    "model), its boxes grown to heads.",
)
@click.option("--frame-step", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--min-dimension", default=6, show_default=True, type=click.IntRange(min=1))
@click.option("--max-dimension", default=750, show_default=True, type=click.IntRange(min=1))
@click.option(
    "-ep",
    "--execution-provider",
    "provider",
    default="cpu",
    show_default=True,
    type=click.Choice(PROVIDER_CHOICES),
    help="onnxruntime provider of the DEIMv2 detector (cuda, tensorrt fall back to the CPU).",
)
@click.option("--dry-run", is_flag=True, help="Count the crops without writing any.")
@click.option("--overwrite", is_flag=True, help="Replace crops that already exist.")
def crop_heads_command(
    input_dir: Path,
    output_dir: Path,
    detector_model: Path | None,
    frame_step: int,
    min_dimension: int,
    max_dimension: int,
    provider: str,
    dry_run: bool,
    overwrite: bool,
) -> None:
    """Crop the best head (score >= 0.35) of every Nth frame of labelled videos."""
    from hsc_infer.detectors import load_detector  # onnxruntime loads only when asked
    from hsc_jax.data.crop_heads import SCORE_THRESHOLD, crop_heads

    with user_errors():
        # The reference's 0.35 is DEIMv2's head threshold; a face detector keeps its own.
        threshold = SCORE_THRESHOLD if detector_model is not None else None
        detector = load_detector(detector_model, provider=provider, score_threshold=threshold)
        report = crop_heads(
            input_dir,
            output_dir,
            detector,
            frame_step=frame_step,
            min_dimension=min_dimension,
            max_dimension=max_dimension,
            score_threshold=SCORE_THRESHOLD,
            dry_run=dry_run,
            overwrite=overwrite,
        )
    click.echo(report.format())
