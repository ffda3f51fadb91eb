"""A tiny photo-folder dataset of drawn shapes, with a corrupt JPEG and a stray file, for the trainer's tests."""

from __future__ import annotations

import cv2
import numpy as np


def draw(shape: str, rng: np.random.Generator) -> np.ndarray:
    image = np.full((64, 64, 3), rng.integers(150, 256, 3), dtype=np.uint8)
    colour = tuple(int(v) for v in rng.integers(0, 100, 3))
    centre = tuple(int(v) for v in rng.integers(24, 40, 2))
    if shape == "circles":
        cv2.circle(image, centre, int(rng.integers(10, 18)), colour, -1)
    elif shape == "squares":
        half = int(rng.integers(8, 14))
        cv2.rectangle(image, (centre[0] - half, centre[1] - half), (centre[0] + half, centre[1] + half), colour, -1)
    else:
        cv2.line(image, (8, int(rng.integers(8, 56))), (56, int(rng.integers(8, 56))), colour, 5)
    return image


def write_shapes(root, classes=("squares", "circles"), per_class=(16, 6)):
    """root/train/<class>/*.png and root/validation/<class>/*.png, plus a corrupt JPEG and a stray text file."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "validation"), per_class):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                cv2.imwrite(str(folder / f"{name}{i}.png"), draw(name, rng))
    (root / "train" / classes[0] / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "train" / classes[0] / "notes.txt").write_text("not an image")
    return root
