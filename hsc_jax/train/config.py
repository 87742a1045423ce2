"""The training configuration: one typed dataclass, validated before any work starts.

Field names and defaults follow the reference `train.py` flags so that its command lines carry
over. `model_config()` turns the architecture fields (or a named size) into a `ModelConfig`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hsc_jax.data.images import parse_image_size

RESAMPLING_MODES = ("none", "weighted", "balanced")
DEVICES = ("auto", "cpu", "gpu", "cuda", "tpu")
NAMED_SIZE_KEYS = ("p", "n", "t", "s", "c", "m", "l")
# Architecture flags that a named size fixes; giving one of them with --size is a conflict.
SIZE_FIXED_FIELDS = ("base_channels", "num_blocks", "arch_variant", "head_variant")


class ConfigError(ValueError):
    """A training setting that no run can start from; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `hsc-jax train` needs; JSON-safe so checkpoints can record it."""

    # Dataset: a parquet file, or a folder holding `dataset.parquet`.
    data_root: str
    # Where checkpoints, logs, history, plots and TensorBoard events go.
    output_dir: str = "runs/hsc"
    # Total number of epochs (a resumed run continues up to this count).
    epochs: int = 30
    # Global batch size over all devices and hosts; must divide by the device count.
    batch_size: int = 256
    # "none": shuffle; "weighted": draw N with replacement at 1/class-count; "balanced": tile up.
    train_resampling: str = "none"
    # AdamW peak learning rate (reduced on plateau).
    lr: float = 1e-4
    # AdamW decoupled weight decay, applied to every parameter.
    weight_decay: float = 1e-4
    # Host threads that gather batches and run CLAHE (in-process, no worker processes).
    num_workers: int = 2
    # Model input (H, W); the dataset cache is resized to it once.
    image_size: tuple[int, int] = (48, 48)
    # Ratios of the grouped split for rows without a split (or marked "unassigned").
    train_ratio: float = 0.8
    val_ratio: float = 0.2
    test_ratio: float = 0.0
    # Seeds the split, the data order, augmentation, dropout and initialisation.
    seed: int = 42
    # Named size p|n|t|s|c|m|l (the reference zoo); None means the explicit fields below.
    size: str | None = None
    # Architecture (see hsc_jax.models.ModelConfig); None = the size's or the reference default.
    base_channels: int | None = None
    num_blocks: int | None = None
    dropout: float | None = None
    arch_variant: str | None = None
    head_variant: str | None = None
    token_mixer_grid: tuple[int, int] = (2, 3)
    token_mixer_layers: int = 2
    rgb_to_yuv_to_y: bool = False
    rgb_to_lab: bool = False
    rgb_to_luv: bool = False
    # "auto" takes an accelerator when JAX has one; training is data parallel over its devices.
    device: str = "auto"
    # A checkpoint folder to continue from, "auto" for the newest in output_dir, or None.
    resume: str | None = None
    # bfloat16 compute with float32 parameters and loss (accelerators only; CPU trains in f32).
    use_amp: bool = False
    # Progress bars and per-epoch detail on the console.
    verbose: bool = False
    # Leave out rows whose label or image is bad (reporting how many) instead of failing.
    skip_bad_rows: bool = False
    # Checkpoints kept: the latest N epoch checkpoints and the latest N best ones.
    keep_epoch_checkpoints: int = 10
    keep_best_checkpoints: int = 10
    # What the training crops show ("head": the whole head; "face": a tight face crop such as
    # FERPlus) and the margin per side; both go into the contract so inference crops alike.
    crop_kind: str = "head"
    crop_margin: float = 0.0
    # Probability of CLAHE per training image (host side, before the batch goes to device).
    clahe_p: float = 0.01
    # Stop each epoch after this many steps (benchmarks and smoke tests); None = whole epoch.
    max_steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        # JSON and the CLI hand these over as lists or strings; keep them canonical tuples.
        try:
            object.__setattr__(self, "image_size", parse_image_size(self.image_size))
        except ValueError as e:
            raise ConfigError(f"--image_size: {e}") from e
        object.__setattr__(self, "token_mixer_grid", parse_grid(self.token_mixer_grid))
        if self.size is not None:
            object.__setattr__(self, "size", str(self.size).lower())

    def validate(self) -> None:
        """Raise ConfigError naming the setting, the value and what was expected."""
        if not Path(self.data_root).exists():
            raise ConfigError(f"--data_root {self.data_root} does not exist")
        checks = [
            (
                self.crop_kind in ("head", "face"),
                f"--crop_kind must be head or face, got {self.crop_kind!r}",
            ),
            (self.crop_margin >= 0, f"--crop_margin must be >= 0, got {self.crop_margin}"),
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"--weight_decay must be >= 0, got {self.weight_decay}"),
            (self.num_workers >= 0, f"--num_workers must be >= 0, got {self.num_workers}"),
            (
                self.train_resampling in RESAMPLING_MODES,
                f"--train_resampling must be one of {RESAMPLING_MODES}, "
                f"got {self.train_resampling!r}",
            ),
            (self.device in DEVICES, f"--device must be one of {DEVICES}, got {self.device!r}"),
            (
                self.size is None or self.size in NAMED_SIZE_KEYS,
                f"--size must be one of {'|'.join(NAMED_SIZE_KEYS)}, got {self.size!r}",
            ),
            (0.0 <= self.clahe_p <= 1.0, f"clahe_p must be in [0, 1], got {self.clahe_p}"),
            (
                self.keep_epoch_checkpoints >= 1 and self.keep_best_checkpoints >= 1,
                "checkpoint retention counts must be >= 1",
            ),
        ]
        for ratio_name in ("train_ratio", "val_ratio", "test_ratio"):
            value = getattr(self, ratio_name)
            checks.append((0.0 <= value <= 1.0, f"--{ratio_name} must be in [0, 1], got {value}"))
        ratio_sum = self.train_ratio + self.val_ratio + self.test_ratio
        checks.append(
            (
                abs(ratio_sum - 1.0) < 1e-6,
                f"--train_ratio + --val_ratio + --test_ratio must sum to 1, got {ratio_sum:g}",
            )
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if self.size is not None:
            given = [name for name in SIZE_FIXED_FIELDS if getattr(self, name) is not None]
            if given:
                flags = ", ".join(f"--{name}" for name in given)
                raise ConfigError(
                    f"--size {self.size} fixes the architecture; it conflicts with {flags}. "
                    "Give either a named size or explicit architecture flags, not both."
                )
        try:
            self.model_config().validate()
        except ValueError as e:
            raise ConfigError(f"invalid model settings: {e}") from e

    def model_config(self) -> Any:
        """The ModelConfig these settings describe (a named size, then explicit overrides)."""
        from hsc_jax.models import NAMED_SIZES, ModelConfig

        base = NAMED_SIZES[self.size] if self.size is not None else ModelConfig()
        overrides: dict[str, Any] = {
            "token_mixer_grid": self.token_mixer_grid,
            "token_mixer_layers": self.token_mixer_layers,
            "rgb_to_yuv_to_y": self.rgb_to_yuv_to_y,
            "rgb_to_lab": self.rgb_to_lab,
            "rgb_to_luv": self.rgb_to_luv,
        }
        for name in ("base_channels", "num_blocks", "dropout", "arch_variant", "head_variant"):
            if getattr(self, name) is not None:
                overrides[name] = getattr(self, name)
        return dataclasses.replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples as lists), as checkpoints and summaries record it."""
        out = dataclasses.asdict(self)
        out["image_size"] = list(self.image_size)
        out["token_mixer_grid"] = list(self.token_mixer_grid)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; keys this version does not know are dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def parse_grid(value: Any) -> tuple[int, int]:
    """'2x3', '2,3', (2, 3) or [2, 3] -> (2, 3)."""
    if isinstance(value, str):
        parts = value.lower().replace("×", "x").replace(",", "x").split("x")
        try:
            numbers = [int(p) for p in parts if p.strip()]
        except ValueError:
            numbers = []
    else:
        numbers = [int(v) for v in value]
    if len(numbers) != 2 or min(numbers) < 1:
        raise ConfigError(f"token_mixer_grid must be ROWSxCOLS such as 2x3, got {value!r}")
    return numbers[0], numbers[1]
