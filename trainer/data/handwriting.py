"""Digits written by hand and photographed by a phone: the many ways a camera sees a real digit.

``render_on_paper`` writes an MNIST item as it is (MNIST's own pen) on a sheet. Real photos differ in ways
the backbone notices and the 28x28 network must survive: a pencil or fine pen a third as wide as MNIST's, a
marker twice as wide, a yellow sticky note, a dim grey room or a warm lamp, a digit that fills the photo or
sits small in a corner, a small crop of a larger photo enlarged. ``render_written`` redraws the item's strokes
(its skeleton) with such a pen and photographs the sheet in such light. The digits head's bank holds
these beside ``render_on_paper``'s and drawn digits, and its threshold is calibrated on each kind (and
on real photos where there are some): see ``trainer.recipes.camera_head``.
"""

from __future__ import annotations

import cv2
import numpy as np

from piclassify.trainer.data.photos import jpeg_round_trip, paper_sheet

# pen: (stroke width range as a share of the digit's height, ink colours RGB, opacity range)
PENS = {
    "pencil": ((0.025, 0.06), ((70, 70, 75), (95, 95, 100), (120, 120, 125)), (0.45, 0.85)),
    "ballpoint": ((0.025, 0.06), ((25, 25, 35), (25, 40, 120), (20, 30, 90)), (0.7, 0.95)),
    "gel pen": ((0.05, 0.1), ((15, 15, 20), (20, 35, 150), (120, 25, 25)), (0.85, 1.0)),
    "marker": ((0.08, 0.14), ((15, 15, 20), (20, 40, 160), (150, 20, 25), (20, 100, 40)), (0.9, 1.0)),
}
STICKY_NOTES = ((250, 235, 120), (250, 200, 210), (190, 240, 190), (190, 220, 250), (250, 215, 150))
STROKE_SIZE = 224  # strokes are redrawn at this size, then scaled to the digit's


def skeleton(mask: np.ndarray) -> np.ndarray:
    """The morphological skeleton of a 0/1 uint8 mask: the line down the middle of each stroke."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    core = np.zeros_like(mask)
    while mask.any():
        eroded = cv2.erode(mask, cross)
        core |= mask & ~cv2.dilate(eroded, cross)
        mask = eroded
    return core


def pen_strokes(item: np.ndarray, side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The item's strokes redrawn with a pen of the ``PENS``, ``side`` pixels square: (ink 0..1, ink colour)."""
    widths, colours, opacity = PENS[list(PENS)[int(rng.integers(0, len(PENS)))]]
    smooth = cv2.GaussianBlur(cv2.resize(item, (STROKE_SIZE, STROKE_SIZE), interpolation=cv2.INTER_CUBIC)
                              .astype(np.float32), (0, 0), 5)
    core = skeleton((smooth > 100).astype(np.uint8))
    distance = cv2.distanceTransform((1 - core).astype(np.uint8), cv2.DIST_L2, 3)
    radius = max(0.6 * STROKE_SIZE / side, rng.uniform(*widths) * STROKE_SIZE / 2)  # at least a pixel in the photo
    ink = np.clip(radius + 0.5 - distance, 0, 1).astype(np.float32)
    ink = cv2.resize(ink, (side, side), interpolation=cv2.INTER_AREA if side < STROKE_SIZE else cv2.INTER_LINEAR)
    if colours is PENS["pencil"][1]:  # graphite: grainy, lighter where it pressed less
        ink *= cv2.GaussianBlur(rng.uniform(0.5, 1.0, ink.shape).astype(np.float32), (0, 0), 0.7)
    colour = np.array(colours[int(rng.integers(0, len(colours)))], np.float32)
    return ink * rng.uniform(*opacity), colour


def _sheet(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A quarter of the time a sticky note, else ``paper_sheet``'s plain, ruled or squared paper."""
    width, height = size
    if rng.random() < 0.25:
        note = np.array(STICKY_NOTES[int(rng.integers(0, len(STICKY_NOTES)))], np.float32)
        unevenness = cv2.resize(rng.uniform(0.97, 1.03, (4, 4)).astype(np.float32), size)
        return np.ones((height, width, 3), np.float32) * note * unevenness[..., np.newaxis]
    sheet = paper_sheet(rng, size)
    return sheet / max(float(sheet.mean()), 1.0) * rng.uniform(200, 250)


def _light(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) a room's light on the sheet: exposure, a gradient, vignetting and the colour of the lamp."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / width - 0.5, ys / height - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = rng.uniform(0.5, 1.02) * (1 + rng.uniform(0, 0.5) * (np.cos(angle) * xs + np.sin(angle) * ys))
    light *= 1 - rng.uniform(0, 0.6) * (xs ** 2 + ys ** 2)
    warm = rng.uniform(-0.08, 0.15)
    return light[..., np.newaxis] * np.array([1 + warm, 1, 1 - warm], np.float32)


def render_written(item: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A 28x28 light-on-dark item written by hand on paper or a sticky note and photographed: an RGB uint8 photo.

    A third of the photos are small crops of a larger photo, enlarged (the digit 30 to 60 pixels high before).
    """
    crop = rng.random() < 0.35
    scale = rng.uniform(0.15, 0.45) if crop else 1.0
    shot = (max(24, int(size[0] * scale)), max(18, int(size[1] * scale)))
    sheet = _sheet(rng, shot)
    side = max(8, int(min(shot) * rng.uniform(0.2, 0.9)))
    ink, colour = pen_strokes(item, side, rng)
    coverage = np.zeros((shot[1], shot[0]), np.float32)
    x0, y0 = int(rng.integers(0, shot[0] - side + 1)), int(rng.integers(0, shot[1] - side + 1))
    coverage[y0:y0 + side, x0:x0 + side] = ink
    photo = sheet * (1 - coverage[..., np.newaxis]) + colour * coverage[..., np.newaxis] * (sheet / 255.0)
    photo = photo * _light(rng, shot)
    if crop:
        photo = cv2.resize(np.clip(photo, 0, 255), size,
                           interpolation=(cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(0, 2))])
    blur = rng.uniform(0, 1.6)
    if blur > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    photo = np.clip(photo + rng.normal(0, rng.uniform(1, 6), photo.shape), 0, 255).astype(np.uint8)
    return jpeg_round_trip(photo, int(rng.integers(40, 96)))
