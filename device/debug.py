"""``--debug-dir``: save each framing step and the exact model input beside the frame, to see what the model sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from piclassify.shared.framing import FramingSteps


def save_steps(directory: Path, stem: str, frame: np.ndarray, steps: FramingSteps) -> list[Path]:
    """Write ``<stem>-frame.png`` and one ``<stem>-<step>.png`` per step; the model input is lossless PNG."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in {"frame": frame, **steps.images}.items():
        path = directory / f"{stem}-{name}.png"
        Image.fromarray(np.ascontiguousarray(image)).save(path)
        written.append(path)
    return written
