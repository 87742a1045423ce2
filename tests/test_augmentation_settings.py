"""The augmentation settings of training (hsc_jax/train/augment.py) and the copy that
benchmarks/torch_reference/settings.py holds for the PyTorch reference-style trainer agree with the
reference's, as the spec states them (training.md, the
numbered "Training augmentation, in order" list). The values are read from the spec's text, so
a change on either side shows up here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.torch_reference import settings as torch_reference_settings
from hsc_jax.train import augment
from hsc_jax.train.config import TrainConfig

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "training.md"
NUMBER = r"-?\d+(?:\.\d+)?"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not SPEC.is_file(), reason=f"the spec is not at {SPEC} (../shared beside the repo root)"
    ),
]


@pytest.fixture(params=[augment, torch_reference_settings], ids=lambda m: m.__name__)
def settings(request: pytest.FixtureRequest):
    return request.param


@pytest.fixture(scope="module")
def steps() -> list[str]:
    """The spec's augmentation steps, each on one line with its white space folded."""
    text = SPEC.read_text()
    marker = "Training augmentation, in order:"
    assert marker in text, f"{SPEC} no longer lists the augmentation after {marker!r}"
    block = text.split(marker, 1)[1].strip().split("\n\n", 1)[0]
    return [" ".join(step.split()) for step in re.split(r"\n(?=\d+\. )", block)]


def step_about(steps: list[str], words: str) -> str:
    found = [step for step in steps if words in step]
    assert len(found) == 1, f"expected one augmentation step about {words!r} in {SPEC}: {steps}"
    return found[0]


def number_after(step: str, pattern: str) -> float:
    """The number that `pattern` (a regex with one group for it) finds in the step."""
    match = re.search(pattern, step)
    assert match, f"{pattern!r} not found in the spec's step {step!r}"
    return float(match.group(1))


def interval_of(step: str, name: str) -> tuple[float, float]:
    """The bounds of '<name> ... in [low, high]' in the step."""
    match = re.search(rf"{name}[^\[]*\[({NUMBER}), ({NUMBER})\]", step)
    assert match, f"no interval for {name!r} in the spec's step {step!r}"
    return float(match.group(1)), float(match.group(2))


def probability(step: str) -> float:
    return number_after(step, rf"p\s*=\s*({NUMBER})")


def test_the_flip_matches_the_spec(steps: list[str], settings):
    assert probability(step_about(steps, "horizontal flip")) == settings.FLIP_P


def test_the_affine_transform_matches_the_spec(steps: list[str], settings):
    step = step_about(steps, "affine transform")
    assert probability(step) == settings.AFFINE_P
    translate_percent = number_after(step, rf"translate up to ({NUMBER}) %")
    assert pytest.approx(translate_percent / 100) == settings.AFFINE_TRANSLATE
    assert interval_of(step, "scale") == settings.AFFINE_SCALE


def test_the_photometric_distortion_matches_the_spec(steps: list[str], settings):
    step = step_about(steps, "photometric distortion")
    assert probability(step) == settings.PHOTOMETRIC_P
    assert interval_of(step, "brightness") == settings.BRIGHTNESS
    assert interval_of(step, "contrast") == settings.CONTRAST
    assert interval_of(step, "saturation") == settings.SATURATION
    assert interval_of(step, "hue") == settings.HUE


def test_clahe_matches_the_spec(steps: list[str], settings):
    step = step_about(steps, "CLAHE")
    if settings is augment:  # training draws CLAHE on the host, with TrainConfig's clahe_p
        clahe_p = TrainConfig.__dataclass_fields__["clahe_p"].default
        tile_grid = augment.CLAHE_TILES
    else:
        clahe_p, tile_grid = settings.CLAHE_P, (settings.CLAHE_TILES, settings.CLAHE_TILES)
    assert probability(step) == clahe_p
    assert number_after(step, rf"clip ({NUMBER})") == settings.CLAHE_CLIP
    tiles = re.search(r"(\d+)x(\d+) tiles", step)
    assert tiles, f"no tile grid in the spec's step {step!r}"
    assert (int(tiles[1]), int(tiles[2])) == tile_grid
