"""The one thing every frame source yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """An RGB uint8 image (H, W, 3), when it was captured (``time.time()``), its number, and where from."""

    image: np.ndarray
    timestamp: float
    index: int
    origin: str = ""
