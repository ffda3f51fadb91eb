"""Render dataset images as camera photos: dark ink on light, unevenly lit paper, off-centre, noisy.

This is what the device will see, made from images with known labels, so the framing in
``shared.framing`` can be measured end to end (tests) and sample photos can be made for the demo.
"""

from __future__ import annotations

import cv2
import numpy as np


def render_photo(item: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A 28x28 light-on-dark image -> an RGB photo of it printed dark on paper under a lamp to one side."""
    width, height = size
    scale = rng.uniform(5.0, 9.0)
    side = int(28 * scale)
    ink = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    ink = np.clip(ink, 0.0, 1.0)
    margin = 30
    x0 = int(rng.integers(margin, width - side - margin))
    y0 = int(rng.integers(margin, height - side - margin))
    coverage = np.zeros((height, width), dtype=np.float32)
    coverage[y0:y0 + side, x0:x0 + side] = ink

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xs / width - 0.5) + np.sin(angle) * (ys / height - 0.5))
    lighting = rng.uniform(170, 225) * (1.0 + rng.uniform(0.2, 0.45) * ramp)
    paper = lighting * (1.0 - rng.uniform(0.7, 0.85) * coverage)
    tint = rng.uniform(0.9, 1.05, size=3).astype(np.float32)
    photo = paper[..., np.newaxis] * tint + rng.normal(0.0, 3.0, (height, width, 3)).astype(np.float32)
    return np.clip(photo, 0, 255).astype(np.uint8)
