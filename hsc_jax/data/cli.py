"""`hsc-jax data ...`: build, synthesise and inspect datasets. Each command wraps one function."""

from __future__ import annotations

from pathlib import Path

import click

from hsc_jax.data.build import build_parquet
from hsc_jax.data.errors import DatasetError
from hsc_jax.data.inspection import inspect_dataset
from hsc_jax.data.labels import CLASS_NAMES, normalise_split, resolve_labels


@click.group("data")
def data() -> None:
    """Build, synthesise and inspect parquet datasets."""


@data.command("build")
@click.option(
    "--root",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder holding {train,validation,val,test}/{smiling,no_smiling}/*.png|jpg|jpeg.",
)
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Parquet file."
)
@click.option(
    "--skip_bad_rows", is_flag=True, help="Leave undecodable images out instead of failing."
)
def build_command(root: Path, output: Path, skip_bad_rows: bool) -> None:
    """Embed a folder tree of labelled images into one parquet file."""
    try:
        report = build_parquet(root, output, skip_bad_rows=skip_bad_rows)
    except DatasetError as e:
        raise click.ClickException(str(e)) from e
    click.echo(report.format())


@data.command("synth")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--count", default=512, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
def synth_command(output: Path, count: int, seed: int) -> None:
    """Write procedural smiling / not smiling heads (split 'unassigned') for tests and demos."""
    from hsc_jax.data.synth import write_synthetic_parquet  # drawing code loads only when asked

    frame = write_synthetic_parquet(output, count, seed)
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
    try:
        report = inspect_dataset(path)
    except DatasetError as e:
        raise click.ClickException(str(e)) from e
    click.echo(report.format())
