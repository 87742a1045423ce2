"""The reference model zoo: named sizes at 48x48, all inverted_se + avgmax_mlp with C = 32."""

from __future__ import annotations

from hsc_jax.models.config import ModelConfig

# name -> num_blocks; trainable parameter counts of the reference are in PARAMETER_COUNTS.
_NUM_BLOCKS = {"p": 1, "n": 2, "t": 3, "s": 4, "c": 5, "m": 6, "l": 8}

NAMED_SIZES: dict[str, ModelConfig] = {
    name: ModelConfig(
        base_channels=32, num_blocks=n, arch_variant="inverted_se", head_variant="avgmax_mlp"
    )
    for name, n in _NUM_BLOCKS.items()
}

# Reference trainable parameters (BN scale/bias included, running statistics not).
PARAMETER_COUNTS = {
    "p": 26_609,
    "n": 40_769,
    "t": 65_425,
    "s": 118_321,
    "c": 212_689,
    "m": 416_785,
    "l": 1_587_153,
}
