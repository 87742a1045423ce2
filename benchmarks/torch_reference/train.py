"""A PyTorch training run built the way the reference HSC trains: the speed baseline.

Runs under its own interpreter (torch and numpy only), on a dataset handed over as a .npz of
uint8 RGB images, labels and split names (what benchmarks/training/vs_reference.py writes):

    /tmp/torchenv/bin/python -m benchmarks.torch_reference.train --data subset.npz \
        --output_dir /tmp/run --size s --epochs 2 --batch_size 256

The reference's shape: a `Dataset` that augments one image per access, a `DataLoader` with
worker processes batching them, a balanced sampler, BCE with `pos_weight`, AdamW, reduce on
plateau, validation and a checkpoint every epoch, and the best checkpoint evaluated on test.
The network is the one in `benchmarks.torch_reference.model`, trained channels_last (PyTorch's
faster layout on a CPU) or, with `--layout nchw`, in PyTorch's default layout, which is how the
reference trains (it never asks for another). Beside it: `settings` (the reference's settings,
copied), `transforms` (the resize and the augmentation) and `clahe` (CLAHE in numpy).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from benchmarks.support import machine_line, print_figures
from benchmarks.torch_reference.model import Net
from benchmarks.torch_reference.settings import NUM_BLOCKS, REFERENCE_NUM_WORKERS
from benchmarks.torch_reference.transforms import augment, resize

# Memory formats for --layout: channels_last is PyTorch's faster one on a CPU, NCHW its default.
LAYOUTS = {"channels_last": torch.channels_last, "nchw": torch.contiguous_format}


class FaceDataset(Dataset):
    """One (image, label) per access, preprocessed then (for training) augmented on the spot."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, size: tuple[int, int], train: bool):
        self.images, self.labels, self.size, self.train = images, labels, size, train

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1).float().div(255)
        image = resize(image, self.size)
        if self.train:
            image = augment(image)
        return image, torch.tensor(float(self.labels[index]))


class BalancedSampler(Sampler[int]):
    """Each epoch: every class tiled up to the largest class, then shuffled."""

    def __init__(self, labels: np.ndarray, seed: int):
        self.labels, self.seed, self.order = labels, seed, np.zeros(0, np.int64)
        self.set_epoch(1)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        classes = np.unique(self.labels)
        largest = max(int(np.sum(self.labels == k)) for k in classes)
        tiled = [
            np.resize(rng.permutation(np.flatnonzero(self.labels == k)), largest) for k in classes
        ]
        self.order = rng.permutation(np.concatenate(tiled))

    def __iter__(self):
        return iter(self.order.tolist())

    def __len__(self) -> int:
        return len(self.order)


# --- training ------------------------------------------------------------------------------


def positive_weight(labels: np.ndarray) -> float:
    """negatives / positives of the epoch's samples (1.0 when a class is missing)."""
    positives, negatives = int(np.sum(labels == 1)), int(np.sum(labels == 0))
    return negatives / positives if positives and negatives else 1.0


def binary_metrics(labels: np.ndarray, logits: np.ndarray, loss: float) -> dict[str, float]:
    predicted = logits > 0  # probability > 0.5
    truth = labels == 1
    tp = int(np.sum(predicted & truth))
    precision = tp / max(1, int(predicted.sum()))
    recall = tp / max(1, int(truth.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(predicted == truth)) if len(labels) else 0.0
    return {"loss": loss, "accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def make_loader(dataset: FaceDataset, batch_size: int, workers: int, sampler=None) -> DataLoader:
    # Pinned memory only helps a copy to a GPU; on a CPU-only torch it is a no-op with a warning.
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        # The step's shapes stay fixed and every image counts as in the JAX trainer, which
        # leaves the incomplete last training batch out too.
        drop_last=sampler is not None,
    )


def train_epoch(model, loader, optimizer, loss_fn, layout) -> dict[str, float]:
    model.train()
    all_logits, all_labels, total = [], [], 0.0
    for images, labels in loader:
        images = images.contiguous(memory_format=layout)
        logits = model(images)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        all_logits.append(logits.detach().numpy())
        all_labels.append(labels.numpy())
    labels, logits = np.concatenate(all_labels), np.concatenate(all_logits)
    return binary_metrics(labels, logits, total / max(1, len(labels)))


@torch.inference_mode()
def evaluate(model, loader, loss_fn, layout) -> dict[str, float]:
    model.eval()
    all_logits, all_labels = [], []
    for images, labels in loader:
        all_logits.append(model(images.contiguous(memory_format=layout)))
        all_labels.append(labels)
    logits, labels = torch.cat(all_logits), torch.cat(all_labels)
    loss = loss_fn(logits, labels).item()
    return binary_metrics(labels.numpy(), logits.numpy(), loss)


def save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int, metrics: dict) -> None:
    """Written to a temporary name and renamed, so a crash never leaves a half checkpoint."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "metrics": metrics,
    }
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def load_split(data: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    chosen = data["split"] == name
    return data["images"][chosen], data["labels"][chosen].astype(np.int64)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz with images, labels, split")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--size", default="s", choices=sorted(NUM_BLOCKS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight_decay", type=float, default=1e-4)
    parser.add_argument("--image_size", type=int, default=48)
    parser.add_argument("--num_workers", type=int, default=REFERENCE_NUM_WORKERS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default="channels_last",
        help="memory format of the network and its input (nchw: as the reference trains)",
    )
    return parser


def fit(args: argparse.Namespace, data: dict[str, np.ndarray]) -> dict:
    """Train, validate and checkpoint every epoch; test the best checkpoint; the summary."""
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    size = (args.image_size, args.image_size)
    workers = min(args.num_workers, os.cpu_count() or 1)
    train_images, train_labels = load_split(data, "train")
    sampler = BalancedSampler(train_labels, args.seed)
    train_loader = make_loader(
        FaceDataset(train_images, train_labels, size, True), args.batch_size, workers, sampler
    )
    evaluation = {
        name: make_loader(
            FaceDataset(*load_split(data, name), size, False), args.batch_size, workers
        )
        for name in ("val", "test")
    }
    layout = LAYOUTS[args.layout]
    model = Net(num_blocks=NUM_BLOCKS[args.size]).to(memory_format=layout)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.999), eps=1e-8
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.5, patience=2, threshold=1e-4
    )
    history, best_f1, best_path, best_epoch = [], -math.inf, None, None
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        pos_weight = positive_weight(train_labels[sampler.order])
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        train = train_epoch(model, train_loader, optimizer, loss_fn, layout)
        val = (
            evaluate(model, evaluation["val"], loss_fn, layout)
            if len(evaluation["val"].dataset)
            else None
        )
        headline = val or train
        scheduler.step(headline["loss"])
        history.append({"epoch": epoch, "train": train, "val": val, "lr": lr})
        path = output / f"hsc_epoch_{epoch:04d}.pt"
        save_checkpoint(path, model, optimizer, scheduler, epoch, {"train": train, "val": val})
        if headline["f1"] > best_f1:
            best_f1, best_epoch = headline["f1"], epoch
            best_path = output / f"hsc_best_epoch{epoch:04d}_f1_{best_f1:.4f}.pt"
            shutil.copyfile(path, best_path)
        (output / "history.json").write_text(json.dumps(history, indent=2))
        seconds = time.perf_counter() - started
        print(f"epoch {epoch}/{args.epochs}: train {train} val {val} ({seconds:.1f} s)", flush=True)
    test = None
    if len(evaluation["test"].dataset) and best_path is not None:
        model.load_state_dict(torch.load(best_path)["model"])
        test = evaluate(model, evaluation["test"], loss_fn, layout)
    return {
        "best_checkpoint": str(best_path),
        "best_epoch": best_epoch,
        "best_f1": best_f1,
        "test_metrics": test,
        "parameters": sum(p.numel() for p in model.parameters()),
        "num_workers": workers,
        "layout": args.layout,
        "threads": torch.get_num_threads(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    print(f"{machine_line()}; torch {torch.__version__}", flush=True)
    torch.manual_seed(args.seed)
    with np.load(args.data) as archive:
        data = {name: archive[name] for name in ("images", "labels", "split")}
    started = time.perf_counter()
    summary = fit(args, data)
    fit_s = time.perf_counter() - started
    (Path(args.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    rows = {name: int(np.sum(data["split"] == name)) for name in ("train", "val", "test")}
    print_figures(
        "benchmarks.torch_reference.train",
        {"args": vars(args), "torch": torch.__version__, "rows": rows, "fit_s": fit_s, **summary},
    )


if __name__ == "__main__":
    main()
