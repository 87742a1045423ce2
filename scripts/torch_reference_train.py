"""A PyTorch training run built the way the reference HSC trains: the speed baseline.

Runs under its own interpreter (torch and numpy only), on a dataset handed over as a .npz of
uint8 RGB images, labels and split names (what scripts/bench_train_vs_reference.py writes):

    /tmp/torchenv/bin/python scripts/torch_reference_train.py --data subset.npz \
        --output_dir /tmp/run --size s --epochs 2 --batch_size 256

The reference's shape: a `Dataset` that augments one image per access, a `DataLoader` with
worker processes batching them, a balanced sampler, BCE with `pos_weight`, AdamW, reduce on
plateau, validation and a checkpoint every epoch, and the best checkpoint evaluated on test.
The network is the one in scripts/bench_torch_reference.py, trained channels_last (PyTorch's
faster layout on a CPU) or, with `--layout nchw`, in PyTorch's default layout, which is how the
reference trains (it never asks for another).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_torch_reference import Net
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

# Named sizes of the reference zoo: all inverted_se + avgmax_mlp with 32 channels.
NUM_BLOCKS = {"p": 1, "n": 2, "t": 3, "s": 4, "c": 5, "m": 6, "l": 8}
REFERENCE_NUM_WORKERS = 4
# Memory formats for --layout: channels_last is PyTorch's faster one on a CPU, NCHW its default.
LAYOUTS = {"channels_last": torch.channels_last, "nchw": torch.contiguous_format}

# The augmentation's settings, as in hsc_jax/train/augment.py (this interpreter has no JAX to
# import them with).
FLIP_P = 0.5
AFFINE_P = 0.4
AFFINE_TRANSLATE = 0.05  # fraction of width / height
AFFINE_SCALE = (0.9, 1.1)
PHOTOMETRIC_P = 0.5  # each part on its own
BRIGHTNESS = (0.875, 1.125)
CONTRAST = (0.5, 1.5)
SATURATION = (0.5, 1.5)
HUE = (-0.05, 0.05)
CLAHE_P = 0.01
CLAHE_CLIP = 2.0
CLAHE_TILES = 4
LUMA = (0.2989, 0.587, 0.114)  # torchvision's grayscale weights


# --- per-image preprocessing (runs in the DataLoader workers) -----------------------------


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, h, w) -> (3, H, W): antialiased when shrinking, bilinear when enlarging."""
    if tuple(image.shape[1:]) == size:
        return image
    shrinking = size[0] < image.shape[1] or size[1] < image.shape[2]
    resized = F.interpolate(
        image[None], size=size, mode="bilinear", antialias=shrinking, align_corners=False
    )
    return resized[0]


def uniform(bounds: tuple[float, float]) -> float:
    # torch's generator, not numpy's: DataLoader seeds it differently in every worker.
    return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(()).item()


def chance(p: float) -> bool:
    return torch.rand(()).item() < p


def random_affine(image: torch.Tensor) -> torch.Tensor:
    """Scale about the centre and translate (no rotation), bilinear, fill 0."""
    scale = uniform(AFFINE_SCALE)
    # In grid_sample's [-1, 1] coordinates a shift of t pixels is 2 t / size.
    tx = 2 * uniform((-AFFINE_TRANSLATE, AFFINE_TRANSLATE))
    ty = 2 * uniform((-AFFINE_TRANSLATE, AFFINE_TRANSLATE))
    theta = torch.tensor([[1 / scale, 0, -tx / scale], [0, 1 / scale, -ty / scale]])
    grid = F.affine_grid(theta[None], [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None], grid, padding_mode="zeros", align_corners=False)[0]


def grey(image: torch.Tensor) -> torch.Tensor:
    return LUMA[0] * image[0] + LUMA[1] * image[1] + LUMA[2] * image[2]  # (H, W)


def blend(image: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * image + (1 - factor) * other).clamp(0, 1)


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> HSV with hue in [0, 1) (torchvision's formulas)."""
    r, g, b = image
    maxc, minc = image.max(0).values, image.min(0).values
    equal = maxc == minc
    chroma = maxc - minc
    saturation = chroma / torch.where(equal, torch.ones_like(maxc), maxc)
    divisor = torch.where(equal, torch.ones_like(chroma), chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue = torch.where(maxc == r, bc - gc, torch.zeros_like(r))
    hue = hue + torch.where((maxc == g) & (maxc != r), 2.0 + rc - bc, torch.zeros_like(r))
    hue = hue + torch.where((maxc != g) & (maxc != r), 4.0 + gc - rc, torch.zeros_like(r))
    return torch.stack([torch.remainder(hue / 6.0 + 1.0, 1.0), saturation, maxc])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    h, s, v = hsv[0:1], hsv[1:2], hsv[2:3]
    k = torch.remainder(torch.tensor([5.0, 3.0, 1.0])[:, None, None] + 6.0 * h, 6.0)
    return v - v * s * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def adjust_hue(image: torch.Tensor, shift: float) -> torch.Tensor:
    hsv = rgb_to_hsv(image)
    hsv[0] = torch.remainder(hsv[0] + shift, 1.0)
    return hsv_to_rgb(hsv)


def random_photometric(image: torch.Tensor) -> torch.Tensor:
    """torchvision's RandomPhotometricDistort: each part with p = 0.5, contrast before or
    after the colour steps at random, then a random channel permutation."""
    contrast_first = chance(0.5)
    if chance(PHOTOMETRIC_P):
        image = (image * uniform(BRIGHTNESS)).clamp(0, 1)
    if contrast_first and chance(PHOTOMETRIC_P):
        image = blend(image, grey(image).mean(), uniform(CONTRAST))
    if chance(PHOTOMETRIC_P):
        image = blend(image, grey(image)[None], uniform(SATURATION))
    if chance(PHOTOMETRIC_P):
        image = adjust_hue(image, uniform(HUE))
    if not contrast_first and chance(PHOTOMETRIC_P):
        image = blend(image, grey(image).mean(), uniform(CONTRAST))
    if chance(PHOTOMETRIC_P):
        image = image[torch.randperm(3)]
    return image


# CLAHE without OpenCV (this interpreter has torch and numpy only): OpenCV's algorithm on the
# L channel of 8-bit Lab, with sRGB / D65 conversions written out.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = np.array([0.950456, 1.0, 1.088754])


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)


def _lab_f_inverse(f: np.ndarray) -> np.ndarray:
    return np.where(f > 0.206893, f**3, (f - 16 / 116) / 7.787)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] -> L in [0, 100], a, b."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    f = _lab_f((linear @ _RGB_TO_XYZ.T) / _WHITE)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    linear = np.clip((_lab_f_inverse(f) * _WHITE) @ np.linalg.inv(_RGB_TO_XYZ).T, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def clahe_lookup_tables(grey_u8: np.ndarray, tiles: int, clip: float) -> np.ndarray:
    """(tiles, tiles, 256) equalisation maps of the tiles, histograms clipped and the excess
    spread evenly (OpenCV's rule)."""
    h, w = grey_u8.shape
    th, tw = h // tiles, w // tiles
    blocks = grey_u8.reshape(tiles, th, tiles, tw).transpose(0, 2, 1, 3).reshape(tiles, tiles, -1)
    hist = np.stack([np.bincount(b, minlength=256) for b in blocks.reshape(tiles * tiles, -1)])
    limit = max(1, int(clip * th * tw / 256))
    excess = np.maximum(hist - limit, 0).sum(1, keepdims=True)
    hist = np.minimum(hist, limit) + excess // 256
    # The remainder goes one each to every step-th bin, step = 256 // remainder.
    residual = excess % 256
    step = np.maximum(256 // np.maximum(residual, 1), 1)
    bins = np.arange(256)[None, :]
    hist = hist + ((bins % step == 0) & (bins // step < residual))
    lut = np.clip(np.round(np.cumsum(hist, 1) * 255.0 / (th * tw)), 0, 255)
    return lut.reshape(tiles, tiles, 256)


def _tile_weights(length: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel along one axis: the two neighbouring tile centres and the second's weight."""
    position = np.arange(length) * tiles / length - 0.5
    first = np.floor(position).astype(int)
    weight = position - first
    return np.clip(first, 0, tiles - 1), np.clip(first + 1, 0, tiles - 1), weight


def clahe_grey(grey_u8: np.ndarray, tiles: int = CLAHE_TILES, clip: float = CLAHE_CLIP):
    """CLAHE of an (H, W) uint8 image: tile maps blended bilinearly between tile centres."""
    h, w = grey_u8.shape
    pad_h, pad_w = -h % tiles, -w % tiles
    padded = np.pad(grey_u8, ((0, pad_h), (0, pad_w)), mode="reflect")
    lut = clahe_lookup_tables(padded, tiles, clip)
    y0, y1, wy = _tile_weights(padded.shape[0], tiles)
    x0, x1, wx = _tile_weights(padded.shape[1], tiles)
    v = padded.astype(int)
    top = lut[y0[:, None], x0[None], v] * (1 - wx) + lut[y0[:, None], x1[None], v] * wx
    bottom = lut[y1[:, None], x0[None], v] * (1 - wx) + lut[y1[:, None], x1[None], v] * wx
    out = top * (1 - wy[:, None]) + bottom * wy[:, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)[:h, :w]


def clahe(image: torch.Tensor) -> torch.Tensor:
    """CLAHE on the L channel of Lab of a (3, H, W) image in [0, 1], at 8-bit precision."""
    lab = rgb_to_lab(image.permute(1, 2, 0).numpy().astype(np.float64))
    lightness = np.clip(np.round(lab[..., 0] * 255 / 100), 0, 255).astype(np.uint8)
    lab[..., 0] = clahe_grey(lightness).astype(np.float64) * 100 / 255
    lab[..., 1:] = np.clip(np.round(lab[..., 1:]), -128, 127)  # 8-bit a, b as in OpenCV
    rgb = np.round(lab_to_rgb(lab) * 255) / 255
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1).contiguous()


def augment(image: torch.Tensor) -> torch.Tensor:
    """The reference's training augmentation of one (3, H, W) image, in the spec's order."""
    if chance(FLIP_P):
        image = image.flip(2)
    if chance(AFFINE_P):
        image = random_affine(image)
    image = random_photometric(image)
    if chance(CLAHE_P):
        image = clahe(image)
    return image


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


def parse_args() -> argparse.Namespace:
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
    return parser.parse_args()


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


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    with np.load(args.data) as archive:
        data = {name: archive[name] for name in ("images", "labels", "split")}
    summary = fit(args, data)
    (Path(args.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
