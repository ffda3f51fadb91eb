"""``--debug-dir``: save each framing step and the exact model input beside the frame, to see what the model sees.

The folder may be one that others can write to (``/tmp/dbg``): each file is written as every file is
(``shared.files.atomic_file``: a new file, never through a planted symlink, renamed over its final
name; a rename replaces a symlink itself, not the file it points to).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.framing.framed import FramingSteps


class DebugDirError(PiclassifyError):
    """The ``--debug-dir`` folder cannot be created or written."""


def save_steps(directory: Path, stem: str, frame: np.ndarray, steps: FramingSteps) -> list[Path]:
    """Write ``<stem>-frame.png`` and one ``<stem>-<step>.png`` per step; the model input is lossless PNG."""
    from PIL import Image

    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, image in {"frame": frame, **steps.images}.items():
            path = directory / f"{stem}-{name}.png"
            png = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image)).save(png, format="PNG")
            write_atomically(path, png.getvalue())
            written.append(path)
    except OSError as error:
        raise DebugDirError(f"{directory}: cannot save debug images: {error.strerror or error}") from None
    return written

