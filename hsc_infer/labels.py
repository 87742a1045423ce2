"""Names the two halves share: the classes and the image files both accept."""

from __future__ import annotations

# Index = class id: 0 no_smiling, 1 smiling (the reference's label map).
CLASS_NAMES = ("no_smiling", "smiling")

# Image files every command reads (folders of crops, datasets built from folders, predictions).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
