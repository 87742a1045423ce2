"""The quickstart: synthetic data -> train the P size -> evaluate -> predict, in a few minutes.

    make quickstart                      # or: python scripts/quickstart.py --run_dir runs/quickstart

3,000 synthetic heads, 8 epochs of the P size at a quickstart learning rate of 3e-3 (the
training default, 1e-4, needs far more steps than a demo has). Measured on 2 idle CPU cores:
197 s in all (about 20 s per epoch after a 30 s first epoch that compiles), validation F1 0.65,
test F1 0.57 / ROC AUC 0.73. Running it again resumes the same run (nothing is retrained once
finished) and repeats the evaluation and predictions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hsc_jax.data.synth import write_synthetic_parquet
from hsc_jax.evaluation.evaluate import evaluate_model
from hsc_jax.evaluation.predict import format_table, predict_files, write_predictions_csv
from hsc_jax.train.config import TrainConfig
from hsc_jax.train.trainer import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", default="runs/quickstart", help="Everything goes here.")
    parser.add_argument("--images", type=int, default=3000, help="Synthetic images to render.")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--size", default="p", help="Named model size (p is the smallest).")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def sample_crops(parquet: Path, folder: Path, count: int, seed: int) -> list[Path]:
    """A few encoded images of each class written out as files, as a user would have them."""
    frame = pd.read_parquet(parquet, columns=["image_bytes", "class_id"])
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for class_id, name in ((0, "no_smiling"), (1, "smiling")):
        rows = np.flatnonzero(frame["class_id"].to_numpy() == class_id)
        for i, row in enumerate(rng.choice(rows, size=count, replace=False)):
            path = folder / f"{name}_{i}.png"
            path.write_bytes(frame["image_bytes"].iloc[row])
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()

    parquet = run_dir / "synthetic.parquet"
    if not parquet.exists():
        print(f"[1/4] rendering {args.images} synthetic head crops -> {parquet}")
        write_synthetic_parquet(parquet, args.images, seed=args.seed)
    else:
        print(f"[1/4] using {parquet}")

    train_dir = run_dir / "train"
    print(f"[2/4] training size {args.size.upper()} for {args.epochs} epochs -> {train_dir}")
    config = TrainConfig(
        data_root=str(parquet),
        output_dir=str(train_dir),
        size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        train_ratio=0.7,
        val_ratio=0.15,
        test_ratio=0.15,
        seed=args.seed,
        resume="auto",  # a second quickstart continues (or just re-evaluates) the same run
    )
    summary = train(config)

    eval_dir = run_dir / "evaluate"
    print(f"[3/4] evaluating the best checkpoint on the test split -> {eval_dir}")
    metrics = evaluate_model(parquet, eval_dir, checkpoint=summary["best_checkpoint"])

    crops = sample_crops(parquet, run_dir / "crops", count=3, seed=args.seed)
    print(f"[4/4] predicting {len(crops)} crops from {run_dir / 'crops'}")
    predictions = predict_files(summary["best_checkpoint"], crops)
    write_predictions_csv(run_dir / "predictions.csv", predictions)
    print(format_table(predictions))

    test = metrics["at_0.5"]
    print()
    print(f"done in {time.perf_counter() - started:.0f} s")
    print(f"  best checkpoint   {summary['best_checkpoint']} (epoch {summary['best_epoch']})")
    print(f"  validation F1     {summary['best_f1']:.4f}")
    print(
        f"  test F1 / AUC     {test['f1']:.4f} / {test['roc_auc']:.4f} ({metrics['count']} images)"
    )
    print(f"  training outputs  {train_dir} (summary.json, history.json, train.log, diagnostics/)")
    print(f"  TensorBoard       tensorboard --logdir {train_dir}")
    print(f"  evaluation        {eval_dir / 'metrics.json'} and figures")
    print(f"  predictions       {run_dir / 'predictions.csv'}")
    print(
        "  next: hsc-jax export --checkpoint "
        + json.dumps(summary["best_checkpoint"])
        + " --output model.onnx"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
