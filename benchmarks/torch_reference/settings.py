"""The reference's settings that the PyTorch reference-style trainer copies: the named sizes,
the loader's workers and the training augmentation.

Plain Python, no imports: the trainer runs under an interpreter with torch and numpy only (no
JAX to import hsc_jax/train/augment.py's values with), and the project's tests, which have no
torch, import this module to check the values against the spec
(tests/test_augmentation_settings.py).
"""

# Named sizes of the reference zoo: all inverted_se + avgmax_mlp with 32 channels.
NUM_BLOCKS = {"p": 1, "n": 2, "t": 3, "s": 4, "c": 5, "m": 6, "l": 8}
REFERENCE_NUM_WORKERS = 4

# The augmentation's settings, as in hsc_jax/train/augment.py and the spec (training.md).
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
