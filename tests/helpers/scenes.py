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
