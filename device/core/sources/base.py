"""What every frame source is: an iterator of ``Frame`` that closes its device on every exit path."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Iterator

import numpy as np

from piclassify.device.core.frames import Frame


class NothingYet(Exception):
    """A watched source (a folder the service watches) has no new frame now; the loop asks again shortly."""


class FrameSource(ABC):
    """Iterate to get frames; use as a context manager (or call ``close``) to release the device."""

    name: str = "source"
    layout: str = "RGB"  # how ``read`` lays out pixels (see ``Frame``); converted only when a model needs it
    still: bool = False  # photo files: each frame is a scene of its own (``Frame.still``)

    def __init__(self) -> None:
        self._index = 0

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        pixels, origin = self.read()
        frame = Frame(pixels, time.time(), self._index, origin or self.name, self.layout, self._width(pixels),
                      self.still)
        self._index += 1
        return frame

    @abstractmethod
    def read(self) -> tuple[np.ndarray, str]:
        """The next image in ``layout`` and where it came from; StopIteration when there are no more."""

    def _width(self, pixels: np.ndarray) -> int:
        """The image width in pixels (a YUV420 source whose stride is wider says otherwise)."""
        return pixels.shape[1]

    def close(self) -> None:  # noqa: B027 - a source of image files holds nothing open between frames
        """Release the camera or file; safe to call twice."""
