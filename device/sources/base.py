"""What every frame source is: an iterator of ``Frame`` that closes its device on every exit path."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Iterator

import numpy as np

from piclassify.device.frames import Frame


class FrameSource(ABC):
    """Iterate to get frames; use as a context manager (or call ``close``) to release the device."""

    name: str = "source"

    def __init__(self) -> None:
        self._index = 0

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        image, origin = self.read()
        frame = Frame(image=image, timestamp=time.time(), index=self._index, origin=origin or self.name)
        self._index += 1
        return frame

    @abstractmethod
    def read(self) -> tuple[np.ndarray, str]:
        """The next RGB uint8 image and where it came from; StopIteration when there are no more."""

    def close(self) -> None:
        """Release the camera or file; safe to call twice."""
