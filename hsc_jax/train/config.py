"""The training configuration: one typed dataclass, validated before any work starts.

Field names and defaults follow the reference `train.py` flags so that its command lines carry
over. Each field also carries how it is offered (`option(...)`): its help text, allowed values,
flag aliases and whether a resumed run keeps the checkpoint's value. `hsc-jax train` builds its
flags from these, `validate()` checks them, and `recipe.read_recipe` reads them from a JSON
file, so a default or a choice is written down once. `model_config()` turns the architecture
fields (or a named size) into a `ModelConfig`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hsc_jax.data.images import parse_image_size
from hsc_jax.data.resample import RESAMPLING_MODES
from hsc_jax.data.settings import DATA_CACHES, DataSettings
from hsc_jax.data.settings import DEFAULTS as DATA
from hsc_jax.data.sources import data_root_exists
from hsc_jax.devices import DEVICES
from hsc_jax.errors import ConfigError
from hsc_jax.train.options import (
    Bounds,
    check_allowed,
    format_grid,
    format_image_size,
    largest_divisor,
    option,
    option_of,
    parse_grid,
)
from hsc_jax.train.schedule import SCHEDULES

NAMED_SIZE_KEYS = ("p", "n", "t", "s", "c", "m", "l")
# hsc_jax.models.config's ARCH_VARIANTS, HEAD_VARIANTS and RECOMPUTE (here with "auto"),
# repeated so that reading the training flags does not import the model code (and JAX); a test
# checks that they agree.
ARCH_VARIANTS = ("baseline", "inverted_se", "convnext")
HEAD_VARIANTS = ("auto", "avg", "avgmax_mlp", "transformer", "mlp_mixer")
RECOMPUTE = ("auto", "none", "stages", "all")
CROP_KINDS = ("head", "face")
AUGMENTATIONS = ("reference", "wild")
WILD_SHARE = 0.6  # augment_wild.SPOILT_SHARE, repeated to keep this module free of JAX
# Architecture flags that a named size fixes; giving one of them with --size is a conflict.
SIZE_FIXED_FIELDS = ("base_channels", "num_blocks", "arch_variant", "head_variant")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `hsc-jax train` needs; JSON-safe so checkpoints can record it."""

    # Dataset: a parquet file, a folder holding `dataset.parquet` or parquet shards, or a glob.
    data_root: str = option(
        help="Parquet file, folder (dataset.parquet, or *.parquet shards) or glob of shards.",
        per_process=True,
    )
    # Where checkpoints, logs, history, plots and TensorBoard events go.
    output_dir: str = option("runs/hsc", help="Run folder.")
    # Total number of epochs (a resumed run continues up to this count).
    epochs: int = option(30, bounds=Bounds(1))
    # Global batch size over all devices and hosts; must divide by the device count.
    batch_size: int = option(256, bounds=Bounds(1), fixed_on_resume=True)
    # "none": shuffle; "weighted": draw N with replacement at 1/class-count; "balanced": tile up.
    train_resampling: str = option(
        "none",
        help="none: shuffle; weighted: draw by 1/class count; balanced: tile classes up.",
        choices=RESAMPLING_MODES,
        fixed_on_resume=True,
    )
    # AdamW peak learning rate (reduced on plateau).
    lr: float = option(1e-4, bounds=Bounds(0, low_open=True))
    # AdamW decoupled weight decay, applied to every parameter.
    weight_decay: float = option(1e-4, bounds=Bounds(0))
    # Host threads that gather batches and run CLAHE (in-process, no worker processes).
    num_workers: int = option(
        2, help="Host threads preparing batches (in-process).", bounds=Bounds(0), per_process=True
    )
    # Model input (H, W); the dataset cache is resized to it once.
    image_size: tuple[int, int] = option(
        (48, 48),
        help="48, or HxW such as 64x48.",
        as_text=format_image_size,
        fixed_on_resume=True,
    )
    # The data settings (their meaning and defaults: hsc_jax/data/settings.py).
    train_ratio: float = option(DATA.train_ratio, bounds=Bounds(0, 1), fixed_on_resume=True)
    val_ratio: float = option(DATA.val_ratio, bounds=Bounds(0, 1), fixed_on_resume=True)
    test_ratio: float = option(DATA.test_ratio, bounds=Bounds(0, 1), fixed_on_resume=True)
    # Seeds the split, the data order, augmentation, dropout and initialisation.
    seed: int = option(DATA.seed, fixed_on_resume=True)
    # Named size p|n|t|s|c|m|l (the reference zoo); None means the explicit fields below.
    size: str | None = option(
        None,
        help="Named size of the reference zoo (fixes the architecture flags).",
        choices=NAMED_SIZE_KEYS,
        case_sensitive=False,
        fixed_on_resume=True,
    )
    # Architecture (see hsc_jax.models.ModelConfig); None = the size's or the reference default.
    base_channels: int | None = option(
        None, help="Default 32.", bounds=Bounds(1), fixed_on_resume=True
    )
    num_blocks: int | None = option(None, help="Default 4.", bounds=Bounds(1), fixed_on_resume=True)
    dropout: float | None = option(
        None, help="0.3.", bounds=Bounds(0, 1, high_open=True), fixed_on_resume=True
    )
    arch_variant: str | None = option(
        None,
        help="Backbone (default inverted_se).",
        choices=ARCH_VARIANTS,
        aliases=("--arch",),
        fixed_on_resume=True,
    )
    head_variant: str | None = option(
        None, help="Head (default auto).", choices=HEAD_VARIANTS, fixed_on_resume=True
    )
    # Colour stems (at most one): luma only, CIE Lab, CIE Luv.
    rgb_to_yuv_to_y: bool = option(False, help="Luma-only stem.", fixed_on_resume=True)
    rgb_to_lab: bool = option(False, help="CIE Lab stem.", fixed_on_resume=True)
    rgb_to_luv: bool = option(False, help="CIE Luv stem.", fixed_on_resume=True)
    # Token-mixer heads: (rows, cols) of the token grid and the number of layers.
    token_mixer_grid: tuple[int, int] = option(
        (2, 3), help="ROWSxCOLS.", as_text=format_grid, fixed_on_resume=True
    )
    token_mixer_layers: int = option(2, bounds=Bounds(1), fixed_on_resume=True)
    # "auto" takes an accelerator when JAX has one; training is data parallel over its devices.
    device: str = option("auto", choices=DEVICES)
    # Joining a multi-process run (hsc_jax/train/distributed.py). Unset: the JAX_* environment
    # variables, then JAX's cluster auto-detection (SLURM, ...); none of them: one process.
    coordinator_address: str | None = option(
        None,
        help="HOST:PORT of process 0 in a multi-process run (or JAX_COORDINATOR_ADDRESS).",
        per_process=True,
    )
    num_processes: int | None = option(
        None, help="Processes in the run (or JAX_NUM_PROCESSES).", bounds=Bounds(1)
    )
    process_id: int | None = option(
        None, help="This process, 0..N-1 (or JAX_PROCESS_ID).", bounds=Bounds(0), per_process=True
    )
    # Seconds every process may take to join; seconds of silence before a peer counts as lost.
    join_timeout: int = option(
        300, help="Seconds to wait for every process to join.", bounds=Bounds(1)
    )
    peer_timeout: int = option(
        60, help="Seconds without a heartbeat before a process counts as lost.", bounds=Bounds(5)
    )
    # Where decoded images live (DataSettings.cache).
    data_cache: str = option(
        DATA.cache,
        help="ram: decode once into memory; stream: decode per batch from an on-disk index; "
        "auto: ram when it fits comfortably.",
        choices=DATA_CACHES,
        per_process=True,
    )
    # Folder of stream indexes (one per dataset); None: ~/.cache/hsc-jax/stream.
    stream_cache_dir: str | None = option(
        DATA.stream_cache_dir,
        help="Folder for --data_cache stream indexes (default ~/.cache/hsc-jax/stream).",
        per_process=True,
    )
    # JAX's persistent compilation cache in $HSC_JAX_CACHE_DIR (default
    # ~/.cache/hsc-jax/jax-compilation): a repeated run loads its compiled steps instead of
    # compiling them again. Off leaves a cache that JAX_COMPILATION_CACHE_DIR sets in force.
    compile_cache: bool = option(
        True,
        help="Reuse compiled steps across runs ($HSC_JAX_CACHE_DIR, else "
        "~/.cache/hsc-jax/jax-compilation).",
        per_process=True,
    )
    # A checkpoint folder to continue from, "auto" for the newest in output_dir, or None.
    resume: str | None = option(None, help="Checkpoint folder, or 'auto' (newest in output_dir).")
    # bfloat16 compute with float32 parameters and loss (accelerators only; CPU trains in f32).
    use_amp: bool = option(False, help="bfloat16 compute on accelerators.")
    # Activations the backward pass recomputes instead of keeping them from the forward pass
    # (models/recompute.py; never the last stage, whose activations the backward pass needs at
    # once): the same gradients, less scratch memory per step. On 2 CPU cores
    # "stages" kept S at batch 256 in 1.1 GB instead of 2.4 GB at the same or a better speed
    # (docs/models-benchmark.md); "all" also recomputes the stem (0.7 GB, about 6% slower).
    # "auto" is "stages" on CPU and "none" on accelerators, where it has not been measured.
    recompute: str = option(
        "auto",
        help="Activations recomputed in the backward pass instead of kept: none; stages (less "
        "memory, as fast on CPU); all (the stem too: least memory, slower); auto: stages on "
        "CPU, none on accelerators.",
        choices=RECOMPUTE,
    )
    # Progress bars and per-epoch detail on the console.
    verbose: bool = option(False, help="Progress bars and debug logging.", per_process=True)
    # Leave out rows whose label or image is bad (reporting how many) instead of failing.
    skip_bad_rows: bool = option(
        DATA.skip_bad_rows, help="Leave out bad rows instead of failing.", fixed_on_resume=True
    )
    # Checkpoints kept: the latest N epoch checkpoints and the latest N best ones.
    keep_epoch_checkpoints: int = option(10, bounds=Bounds(1), flag=False)
    keep_best_checkpoints: int = option(10, bounds=Bounds(1), flag=False)
    # What the training crops show ("head": the whole head; "face": a tight face crop such as
    # FERPlus) and the margin per side; both go into the contract so inference crops alike.
    crop_kind: str = option(
        "head",
        help="What the training crops show (FERPlus: face); recorded for inference.",
        choices=CROP_KINDS,
    )
    crop_margin: float = option(
        0.0,
        help="Margin per side of the detector box, as a fraction of its size.",
        bounds=Bounds(0),
    )
    # "reference": the reference's flip, affine and photometric steps (augment.py); "wild"
    # adds the framing, blur, resolution and light of faces unlike the training set's
    # (augment_wild.py).
    augment: str = option(
        "reference",
        help="reference: flip, small affine, photometric; wild: also rotation, looser and "
        "off-centre framing, blur, low resolution, gamma, brightness and noise.",
        choices=AUGMENTATIONS,
        fixed_on_resume=True,
    )
    # How many faces --augment wild spoils; lower keeps more of the clean-crop accuracy.
    wild_share: float = option(
        WILD_SHARE,
        help="With --augment wild: the share of the training samples it spoils, each in one "
        "way (framing, blur or resolution, light, in equal parts); the rest get the reference "
        "augmentation alone.",
        bounds=Bounds(0, 1),
        fixed_on_resume=True,
    )
    # Train towards the share of annotators who saw a smile instead of the majority label
    # (needs the happiness_votes and total_votes columns, as FERPlus has).
    soft_labels: bool = option(
        False,
        help="Targets from the annotators' votes (happiness_votes / total_votes) instead of "
        "the majority label.",
        fixed_on_resume=True,
    )
    # Mixup inside the jitted step (step.mix_batch); 0 turns it off.
    mixup: float = option(
        0.0,
        help="Blend each training image and its target with another of the batch by a share "
        "drawn from Beta(a, a); 0: off (0.2 is common). Training metrics then score the "
        "blended images against their own labels: pick the best epoch on a validation split.",
        bounds=Bounds(0),
        fixed_on_resume=True,
    )
    # How the learning rate moves between epochs (schedule.py).
    lr_schedule: str = option(
        "plateau",
        help="plateau: halve after 3 epochs without a better validation loss (the reference's); "
        "cosine: from --lr down towards 0 over --epochs.",
        choices=SCHEDULES,
        fixed_on_resume=True,
    )
    # An exponential moving average of the weights, validated beside them each epoch
    # (average.py); 0 turns it off.
    ema_decay: float = option(
        0.0,
        help="Keep an exponential moving average of the weights: after update t, average = d "
        "* average + (1 - d) * weights with d = min(D, (1 + t) / (10 + t)), so D itself is "
        "reached after 9 / (1 - D) updates (4,500 for 0.998). Each epoch validates both and "
        "the checkpoint exports whichever scores the higher F1 (the average without a "
        "validation split). 0: off.",
        bounds=Bounds(0, 1, high_open=True),
        fixed_on_resume=True,
    )
    # Distillation: train towards a mix of the target and a teacher's probability per image
    # (a `hsc-jax teacher` file; teacher.py).
    teacher: str | None = option(
        None,
        help="Parquet file of teacher probabilities (made by hsc-jax teacher from this "
        "--data_root) to distil from.",
        fixed_on_resume=True,
    )
    teacher_weight: float = option(
        0.5,
        help="Share of the teacher's probability in each target (with --teacher).",
        bounds=Bounds(0, 1),
        fixed_on_resume=True,
    )
    # Probability of CLAHE per training image (host side, before the batch goes to device).
    clahe_p: float = option(0.01, bounds=Bounds(0, 1), flag=False)
    # Stop each epoch after this many steps (benchmarks and smoke tests); None = whole epoch.
    max_steps_per_epoch: int | None = option(
        None, help="Cut epochs short (smoke tests, benchmarks).", bounds=Bounds(1)
    )

    def __post_init__(self) -> None:
        # JSON and the CLI hand these over as lists or strings; keep them canonical tuples.
        try:
            object.__setattr__(self, "image_size", parse_image_size(self.image_size))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"--image_size: {e}") from e
        object.__setattr__(self, "token_mixer_grid", parse_grid(self.token_mixer_grid))
        if self.size is not None:
            object.__setattr__(self, "size", str(self.size).lower())

    def validate(self) -> None:
        """Raise ConfigError naming the setting, the value and what was expected."""
        if not data_root_exists(self.data_root):
            raise ConfigError(f"--data_root {self.data_root} does not exist (or matches no file)")
        if self.teacher is not None and not Path(self.teacher).is_file():
            raise ConfigError(f"--teacher {self.teacher} is not a file")
        for field in dataclasses.fields(self):
            check_allowed(field.name, option_of(field), getattr(self, field.name))
        self.data_settings()  # raises DatasetError when the split ratios do not sum to 1
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
        self._check_feature_map()

    def _check_feature_map(self) -> None:
        """The backbone's feature map at --image_size must exist and a token-mixer head's grid
        must tile it: checked from the sizes alone, before any data is read or file written,
        rather than when the model is built."""
        from hsc_jax.models.model import feature_map_size

        model = self.model_config()
        rows, cols = feature_map_size(model, self.image_size)
        where = (
            f"the {model.arch_variant} backbone (--num_blocks {model.num_blocks}) at "
            f"--image_size {format_image_size(self.image_size)}"
        )
        if min(rows, cols) < 1:
            raise ConfigError(f"{where} leaves no feature map ({rows}x{cols}); raise --image_size")
        if model.resolved_head not in ("transformer", "mlp_mixer"):
            return
        grid_rows, grid_cols = model.token_mixer_grid
        if rows % grid_rows == 0 and cols % grid_cols == 0:
            return
        fit = (largest_divisor(rows, grid_rows), largest_divisor(cols, grid_cols))
        raise ConfigError(
            f"--token_mixer_grid {format_grid(model.token_mixer_grid)} does not tile the "
            f"{rows}x{cols} feature map of {where}: its rows must divide {rows} and its columns "
            f"{cols} (e.g. --token_mixer_grid {format_grid(fit)}), or choose another --image_size"
        )

    def data_settings(self) -> DataSettings:
        """How this run reads and splits its dataset."""
        return DataSettings(
            train_ratio=self.train_ratio,
            val_ratio=self.val_ratio,
            test_ratio=self.test_ratio,
            seed=self.seed,
            cache=self.data_cache,
            stream_cache_dir=self.stream_cache_dir,
            skip_bad_rows=self.skip_bad_rows,
        )

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


def fields_per_process() -> tuple[str, ...]:
    """The settings the processes of one run may hold differently (see Option.per_process)."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if option_of(f).per_process)


def fields_fixed_on_resume() -> tuple[str, ...]:
    """The settings a resumed run takes from its checkpoint rather than from the command line
    (everything that shapes the data order, the split or the model), in field order."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if option_of(f).fixed_on_resume)


def shared_settings(config: TrainConfig, resume_path: Path | None) -> dict[str, Any]:
    """What every process of a run must hold alike, by flag: the settings that are not per
    process, and the checkpoint it continues from."""
    per_process = fields_per_process()
    labels = {f.name: option_of(f).label(f.name) for f in dataclasses.fields(TrainConfig)}
    values = {
        labels[name]: value for name, value in config.to_dict().items() if name not in per_process
    }
    return {**values, "--resume": None if resume_path is None else str(resume_path)}
