"""Whether a region's pixels changed since it was last classified: the cheap test that lets the CPU idle.

A 32 x 32 grey copy of the region (an area average, so sensor noise mostly cancels) against the copy
kept at the last classification: the mean absolute difference, 0 to 255. It costs a resize of the
crop, tens of microseconds, against milliseconds for the backbone.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

SIDE = 32  # the small copy's width and height


def small_grey(gray: np.ndarray) -> np.ndarray:
    """The region's brightness as a SIDE x SIDE float32 copy (an area average of its pixels)."""
    import cv2  # only once a region is watched: reading the config must not load OpenCV

    return cv2.resize(gray, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


class ChangeGate:
    """Remembers the small copy of the last classified crop; says how far a new one is from it."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._kept: Optional[np.ndarray] = None

    def difference(self, small: np.ndarray) -> float:
        """Mean absolute difference from the kept copy; infinite when there is none yet."""
        if self._kept is None:
            return float("inf")
        return float(np.abs(small - self._kept).mean())

    def changed(self, small: np.ndarray) -> bool:
        return self.difference(small) > self.threshold

    def forget(self) -> None:
        """No copy kept: the next crop counts as changed (the region moved)."""
        self._kept = None

    def keep(self, small: np.ndarray) -> None:
        """The copy of the crop just classified: later ones are compared with it."""
        self._kept = small
