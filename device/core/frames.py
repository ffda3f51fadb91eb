"""The one thing every frame source yields: pixels in the camera's own layout, converted once on demand.

A gray model needs only brightness: from a YUV420 frame that is the Y plane as it is, from BGR one
``cvtColor``. Converting every frame to RGB first and then to gray would cost two full-resolution
passes; ``Frame.gray()`` and ``Frame.rgb()`` each do at most one, and remember it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Optional

import numpy as np

LAYOUTS = ("RGB", "BGR", "BGRA", "YUV420", "GRAY")


@dataclass(frozen=True)
class Frame:
    """A captured image, when it was captured (``time.time()``), its number, and where from.

    ``pixels`` is as the source delivered it, in ``layout``: (H, W, 3) RGB or BGR, (H, W, 4) BGRA,
    (H, W) GRAY, or YUV420 as picamera2 gives it: (H * 3/2, stride) with ``width`` the image width.
    """

    pixels: np.ndarray
    timestamp: float
    index: int
    origin: str = ""
    layout: str = "RGB"
    width: int = 0  # YUV420 only: the image width within the (possibly wider) stride
    still: bool = False  # a photo file, a scene of its own; not one of a camera's or a video's frames

    @cached_property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        if self.layout == "RGB":
            return self.pixels
        import cv2

        if self.layout == "BGR":
            return cv2.cvtColor(self.pixels, cv2.COLOR_BGR2RGB)
        if self.layout == "BGRA":
            return cv2.cvtColor(self.pixels, cv2.COLOR_BGRA2RGB)
        if self.layout == "YUV420":
            return cv2.cvtColor(self.pixels, cv2.COLOR_YUV2RGB_I420)[:, :self.width]
        return cv2.cvtColor(self.pixels, cv2.COLOR_GRAY2RGB)

    @cached_property
    def gray(self) -> np.ndarray:
        """(H, W) uint8 brightness: OpenCV's gray conversion, or a YUV420 frame's Y plane as it is."""
        if self.layout == "GRAY":
            return self.pixels
        if self.layout == "YUV420":
            return self.pixels[:self.pixels.shape[0] * 2 // 3, :self.width]
        import cv2

        codes = {"RGB": cv2.COLOR_RGB2GRAY, "BGR": cv2.COLOR_BGR2GRAY, "BGRA": cv2.COLOR_BGRA2GRAY}
        return cv2.cvtColor(self.pixels, codes[self.layout])

    def crop(self, left: int, top: int, right: int, bottom: int) -> Frame:
        """The pixels in [left, right) x [top, bottom), as a frame of its own (same time, number and origin).

        A view, not a copy, in the same layout; a YUV420 frame's crop is its Y plane's, gray for free, and takes
        its colour from this frame's ``rgb`` only when a model asks for colour.
        """
        if self.layout != "YUV420":
            return replace(self, pixels=self.pixels[top:bottom, left:right])
        return _YuvCrop(self.gray[top:bottom, left:right], self.timestamp, self.index, self.origin, "GRAY",
                        still=self.still, whole=self, box=(left, top, right, bottom))


@dataclass(frozen=True)
class _YuvCrop(Frame):
    """A region of a YUV420 frame: gray is the Y plane's crop; RGB comes from the whole frame's, on demand."""

    whole: Optional[Frame] = None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @cached_property
    def rgb(self) -> np.ndarray:
        assert self.whole is not None
        left, top, right, bottom = self.box
        return self.whole.rgb[top:bottom, left:right]
