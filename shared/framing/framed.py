"""What framing gives the model (``Framed``) and what it can show of its work (``FramingSteps``).

Apart from ``shared.framing.model_input`` so that each way of framing (``shared.framing.garment`` too) can return them
without importing the others, and without OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Framed:
    """The model's input, or ``None`` and why nothing is in view."""

    image: Optional[np.ndarray]
    reason: Optional[str] = None


@dataclass
class FramingSteps:
    """Intermediate images of ``object`` framing, kept when asked for (``--debug-dir``)."""

    images: dict[str, np.ndarray] = field(default_factory=dict)

    def keep(self, name: str, image: np.ndarray) -> None:
        self.images[name] = image
