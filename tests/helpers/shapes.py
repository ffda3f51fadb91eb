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


def printed_digits(folder, per_class: int = 12, seed: int = 0):
    """folder/<digit>/NN.jpg: digits printed in OpenCV's fonts, dark ink on unevenly lit paper, photographed at
    320x240 (off-centre, in four typefaces and stroke widths); returns ``folder``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
    ys, xs = np.mgrid[0:240, 0:320]
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            paper = rng.uniform(170, 230) + rng.uniform(-20, 20) * xs / 320 + rng.uniform(-20, 20) * ys / 240
            font, scale, thickness = fonts[number % len(fonts)], rng.uniform(3.0, 4.5), int(rng.integers(6, 12))
            (width, height), _ = cv2.getTextSize(str(digit), font, scale, thickness)
            mask = np.zeros((240, 320), np.uint8)
            origin = (int(160 - width / 2 + rng.uniform(-30, 30)), int(120 + height / 2 + rng.uniform(-20, 20)))
            cv2.putText(mask, str(digit), origin, font, scale, 255, thickness, cv2.LINE_AA)
            photo = paper - mask / 255.0 * (paper - rng.uniform(20, 60)) + rng.normal(0, 3, paper.shape)
            gray = np.clip(photo, 0, 255).astype(np.uint8)
            Image.fromarray(np.repeat(gray[..., np.newaxis], 3, axis=2)).save(folder / str(digit) / f"{number:02d}.jpg",
                                                                             quality=90)
    return folder
