"""``--debug-dir``: save each framing step and the exact model input beside the frame, to see what the model sees.

The folder may be one that others can write to (``/tmp/dbg``). Each file is written under a fresh
temporary name (created with ``O_EXCL``: never an existing file, never through a planted symlink)
and then renamed over its final name; a rename replaces a symlink itself, not the file it points to.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.framing.framed import FramingSteps

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


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
            _write_png(Image.fromarray(np.ascontiguousarray(image)), path)
            written.append(path)
    except OSError as error:
        raise DebugDirError(f"{directory}: cannot save debug images: {error.strerror or error}") from None
    return written


def _write_png(image: PILImage, path: Path) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
