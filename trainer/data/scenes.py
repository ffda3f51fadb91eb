"""Empty scenes as a camera sees them: paper, wood, fabric, carpet, tabletops, walls, a dark room, noise.

A model must answer "nothing in view" for these, not a confident label. The trainer learns an RGB
model's background class from them (with the user's own negatives) and measures every model's
reject rate on them; the tests render them too. NumPy and OpenCV only: no TensorFlow here.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

Size = tuple[int, int]


def _smooth_noise(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Noise with features about ``scale`` pixels across, in [-1, 1]."""
    width, height = size
    cells = (max(2, int(width / scale)), max(2, int(height / scale)))
    coarse = rng.uniform(-1, 1, (cells[1], cells[0])).astype(np.float32)
    return cv2.resize(coarse, size, interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _lighting(rng: np.random.Generator, size: Size, strength: float) -> np.ndarray:
    """A lamp to one side and some vignetting: a smooth multiplier around 1."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / width - 0.5, ys / height - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xs + np.sin(angle) * ys
    vignette = 1.0 - rng.uniform(0.0, 0.5) * (xs ** 2 + ys ** 2)
    return (1.0 + strength * ramp) * vignette


def _colour(rng: np.random.Generator, low: float, high: float, saturation: float) -> np.ndarray:
    """An RGB colour with brightness in [low, high] and at most ``saturation`` of tint."""
    grey = rng.uniform(low, high)
    return np.clip(grey * (1.0 + rng.uniform(-saturation, saturation, 3)), 0, 255).astype(np.float32)


def _finish(rng: np.random.Generator, luminance: np.ndarray, colour: np.ndarray, noise: float) -> np.ndarray:
    """Colour a [0, 1]-ish luminance pattern, add sensor noise, clip to uint8."""
    image = luminance[..., np.newaxis] * colour
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def paper(rng: np.random.Generator, size: Size) -> np.ndarray:
    fibres = 1.0 + 0.015 * _smooth_noise(rng, size, rng.uniform(2, 6))
    return _finish(rng, _lighting(rng, size, rng.uniform(0.1, 0.45)) * fibres,
                   _colour(rng, 170, 240, 0.06), rng.uniform(1.5, 4))


def wood(rng: np.random.Generator, size: Size) -> np.ndarray:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along, across = (xs, ys) if rng.random() < 0.5 else (ys, xs)
    warp = 25 * _smooth_noise(rng, size, rng.uniform(60, 200))
    grain = np.sin((across + warp) * rng.uniform(0.15, 0.6)) * rng.uniform(0.05, 0.18)
    grain += 0.05 * _smooth_noise(rng, size, rng.uniform(4, 12))
    plank = rng.uniform(80, 220)
    seams = 1.0 - 0.25 * (np.abs(((across + 0.02 * along) % plank) - plank / 2) > plank / 2 - 1.5)
    brown = np.array([rng.uniform(120, 200), rng.uniform(75, 130), rng.uniform(35, 80)], np.float32)
    return _finish(rng, (0.85 + grain) * seams * _lighting(rng, size, rng.uniform(0.1, 0.4)), brown, 3)


def fabric(rng: np.random.Generator, size: Size) -> np.ndarray:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(2.5, 8)
    weave = 0.08 * np.sin(2 * np.pi * xs / period) * np.sin(2 * np.pi * ys / period)
    folds = 0.12 * _smooth_noise(rng, size, rng.uniform(80, 250))
    return _finish(rng, (0.85 + weave + folds) * _lighting(rng, size, rng.uniform(0.1, 0.3)),
                   _colour(rng, 60, 230, 0.5), rng.uniform(2, 4))


def carpet(rng: np.random.Generator, size: Size) -> np.ndarray:
    tufts = 0.18 * _smooth_noise(rng, size, rng.uniform(1.5, 4)) + 0.08 * _smooth_noise(rng, size, 40)
    return _finish(rng, (0.8 + tufts) * _lighting(rng, size, rng.uniform(0.1, 0.3)),
                   _colour(rng, 50, 200, 0.5), rng.uniform(2, 5))


def tabletop(rng: np.random.Generator, size: Size) -> np.ndarray:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(80, 300)
    highlight = rng.uniform(0.0, 0.25) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))
    return _finish(rng, (0.9 + highlight) * _lighting(rng, size, rng.uniform(0.1, 0.4)),
                   _colour(rng, 60, 230, 0.4), rng.uniform(1.5, 3.5))


def wall(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A painted wall with the soft shadow of something outside the frame falling across it."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    distance = np.cos(angle) * (xs - width / 2) + np.sin(angle) * (ys - height / 2) - rng.uniform(-150, 150)
    softness = rng.uniform(30, 120)
    shadow = 1.0 - rng.uniform(0.15, 0.4) / (1.0 + np.exp(-distance / softness))
    return _finish(rng, shadow * _lighting(rng, size, rng.uniform(0.1, 0.3)), _colour(rng, 150, 235, 0.15),
                   rng.uniform(1.5, 3))


def dark_room(rng: np.random.Generator, size: Size) -> np.ndarray:
    return _finish(rng, _lighting(rng, size, rng.uniform(0.2, 0.6)), _colour(rng, 8, 45, 0.3), rng.uniform(3, 8))


def sensor_noise(rng: np.random.Generator, size: Size) -> np.ndarray:
    return _finish(rng, np.ones((size[1], size[0]), np.float32), _colour(rng, 40, 200, 0.1), rng.uniform(5, 15))


SCENES: dict[str, Callable[[np.random.Generator, Size], np.ndarray]] = {
    "paper": paper, "wood": wood, "fabric": fabric, "carpet": carpet, "tabletop": tabletop, "wall": wall,
    "dark-room": dark_room, "noise": sensor_noise,
}


def render_empty_scene(kind: str, rng: np.random.Generator, size: Size = (640, 480)) -> np.ndarray:
    """One RGB uint8 photo of an empty ``kind`` scene (a key of ``SCENES``), different for every ``rng`` draw."""
    return SCENES[kind](rng, size)


def empty_scenes(count: int, seed: int = 0, size: Size = (640, 480)) -> list[tuple[str, np.ndarray]]:
    """``count`` scenes cycling through every kind, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    kinds = list(SCENES)
    return [(kinds[n % len(kinds)], render_empty_scene(kinds[n % len(kinds)], rng, size)) for n in range(count)]
