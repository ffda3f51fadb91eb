"""A region of the frame to watch: where it is (fractions of the frame), which model reads it, and how steadily.

A door in one corner is a few percent of the pixels: cropped first, it fills the model's input, and
the framing (centring, contrast, "nothing in view") sees only it. Fractions, not pixels, so that one
config serves any capture size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from piclassify.device.core.frames import Frame

DEFAULT_AGREE = 3  # answers in a row that must agree before a region's state changes (as Frigate's state classes)
DEFAULT_RECHECK_S = 60.0  # an unchanged region is classified again after this long all the same
DEFAULT_CHANGE = 4.0  # mean absolute difference (0-255) of the small grey copy that counts as "the pixels changed"


class RegionBoxError(ValueError):
    """x, y, w, h do not describe a part of the frame."""


@dataclass(frozen=True)
class Box:
    """x, y (top left), w, h: fractions of the frame's width and height, each in [0, 1], the box inside the frame."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not all(0.0 <= v <= 1.0 for v in (self.x, self.y, self.w, self.h)) or self.w <= 0 or self.h <= 0:
            raise RegionBoxError("x, y, w, h are fractions of the frame from 0 to 1, w and h above 0")
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise RegionBoxError("the box must lie inside the frame: x + w and y + h at most 1")

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in a frame of ``width`` x ``height``; at least one pixel each way."""
        left, top = min(int(round(self.x * width)), width - 1), min(int(round(self.y * height)), height - 1)
        right = max(left + 1, min(width, int(round((self.x + self.w) * width))))
        bottom = max(top + 1, min(height, int(round((self.y + self.h) * height))))
        return left, top, right, bottom


@dataclass(frozen=True)
class Region:
    """One watched region: its name (in every result), its box, its model (None: the config's), its own min_score,
    how many agreeing answers change its state, when to look again unchanged, and what counts as changed."""

    name: str
    box: Box
    model: Optional[str] = None
    min_score: float = 0.0
    agree: int = DEFAULT_AGREE
    recheck_s: float = DEFAULT_RECHECK_S
    change: float = DEFAULT_CHANGE
    on: Optional[str] = None  # the state that is "on" for a two-state model's binary sensor (Home Assistant)

    def crop(self, frame: Frame) -> Frame:
        """The region's pixels as a frame of their own (a view of the frame's, no copy)."""
        height, width = frame.gray.shape[:2] if frame.layout == "YUV420" else frame.pixels.shape[:2]
        return frame.crop(*self.box.pixels(width, height))
