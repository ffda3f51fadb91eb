"""A scene on a timeline: a card in one region of the frame shows a digit, nothing, another digit, at known frames,
while the light swells and fades, a ball rolls across the rest of the frame, and every frame has sensor noise.

The bundled ``digits`` model reads the card; the timeline test (``tests/device/core/test_region_timeline.py``)
and ``scripts/bench_regions.py`` play it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

# The card's state from each frame on: a digit, or None (nothing in view: a blank card).
TIMELINE: tuple[tuple[int, Optional[str]], ...] = ((0, "1"), (30, None), (60, "7"), (95, "1"))
GLITCH = 75  # one frame where the card shows "1" while the truth is "7" (a hand waved past): never published
LENGTH = 125
CARD = (0.55, 0.15, 0.4, 0.7)  # x, y, w, h of the card's region, fractions of the frame


def truth(index: int) -> Optional[str]:
    """The card's state at frame ``index`` (the glitch is not a state: one frame)."""
    return [state for start, state in TIMELINE if start <= index][-1]


def shown(index: int) -> Optional[str]:
    """What the card shows at frame ``index``: the truth, but for the glitch."""
    return "1" if index == GLITCH else truth(index)


def draw_frame(index: int, rng: np.random.Generator, size: tuple[int, int] = (320, 240),
               card: Optional[str] = "from timeline") -> np.ndarray:
    """Frame ``index`` as BGR: the card (``card``: what it shows, by default the timeline's), the ball, the light."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    scene = (90 + 40 * xs / width + 20 * ys / height).astype(np.uint8)  # a wall, lit unevenly
    ball_x = int(0.05 * width + (index * 7) % int(0.4 * width))
    cv2.circle(scene, (ball_x, int(height * (0.5 + 0.3 * math.sin(index / 5)))), height // 10, 30, -1)
    left, top = int(CARD[0] * width), int(CARD[1] * height)
    right, bottom = int((CARD[0] + CARD[2]) * width), int((CARD[1] + CARD[3]) * height)
    scene[top:bottom, left:right] = 210  # the card
    digit = shown(index) if card == "from timeline" else card
    if digit is not None:
        scale = (bottom - top) / 60
        (text_w, text_h), _ = cv2.getTextSize(digit, cv2.FONT_HERSHEY_SIMPLEX, scale, max(2, int(scale * 3)))
        cv2.putText(scene, digit, ((left + right - text_w) // 2, (top + bottom + text_h) // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, 35, max(2, int(scale * 3)), cv2.LINE_AA)
    light = 1.0 + 0.2 * math.sin(2 * math.pi * index / 45)  # the sun behind clouds
    gray = np.clip(scene * light + rng.normal(0, 5, scene.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def write_video(path: Path, size: tuple[int, int] = (320, 240), length: int = LENGTH, seed: int = 0) -> Path:
    """The timeline as an MJPG video at 10 frames/s."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    try:
        for index in range(length):
            writer.write(draw_frame(index, rng, size))
    finally:
        writer.release()
    return path


# A garage door, open or shut, in the corner of a wall: the two-state scene of scripts/bench_regions.py.
DOOR = (0.5, 0.2, 0.42, 0.7)  # x, y, w, h of the door's region
DOOR_STATES = ("open", "shut")


def draw_door(state: str, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """One BGR frame of the door ``state`` ("open": the dark garage, perhaps a car, the door rolled up at the top;
    "shut": ribbed panels), each frame its own light level and slant, shadow, camera shake, noise and JPEG."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = 150 + 25 * np.sin(xs / 7.0) * np.sin(ys / 11.0) * 0.2 + rng.normal(0, 6, (height, width))
    scene = np.repeat(wall[..., np.newaxis], 3, axis=2) * np.array([0.95, 1.0, 1.05])
    left, top = int(DOOR[0] * width), int(DOOR[1] * height)
    right, bottom = int((DOOR[0] + DOOR[2]) * width), int((DOOR[1] + DOOR[3]) * height)
    if state == "shut":
        door = np.full((bottom - top, right - left, 3), rng.uniform(170, 215), np.float32)
        for rib in range(1, 5):
            y = rib * (bottom - top) // 5
            door[y - 3:y + 3] *= 0.6
    else:
        door = np.full((bottom - top, right - left, 3), rng.uniform(15, 45), np.float32)
        door[: (bottom - top) // 8] = rng.uniform(160, 200)  # the rolled-up door
        if rng.random() < 0.5:  # the car inside
            cv2.ellipse(door, ((right - left) // 2, (bottom - top) * 3 // 4), ((right - left) // 3, (bottom - top) // 6),
                        0, 180, 360, tuple(float(v) for v in rng.uniform(30, 120, 3)), -1)
    scene[top:bottom, left:right] = door
    cv2.rectangle(scene, (left, top), (right, bottom), (90.0, 90.0, 90.0), 4)  # the frame of the door
    shade = rng.uniform(0.45, 1.3) * (1 + rng.uniform(-0.3, 0.3) * (xs - width / 2) / width)  # light and its slant
    scene *= shade[..., np.newaxis]
    if rng.random() < 0.5:  # a shadow across part of the picture
        corners = rng.integers(0, [width, height], (4, 2)).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [cv2.convexHull(corners)], 1)
        scene[mask == 1] *= rng.uniform(0.5, 0.8)
    shift = np.float32([[1, 0, rng.uniform(-4, 4)], [0, 1, rng.uniform(-4, 4)]])  # the camera shakes a little
    scene = cv2.warpAffine(np.clip(scene + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8), shift, size,
                           borderMode=cv2.BORDER_REPLICATE)
    ok, jpeg = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
