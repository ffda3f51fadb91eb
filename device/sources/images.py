"""Still images: files, folders and globs (JPEG, PNG, BMP, WebP), EXIF orientation applied."""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Iterable

import numpy as np

from piclassify.device.errors import SourceError
from piclassify.device.sources.base import FrameSource
from piclassify.shared.imagefile import IMAGE_SUFFIXES, read_image

log = logging.getLogger(__name__)


def expand_image_paths(specs: Iterable[str]) -> list[Path]:
    """Files as given, folders as their images in name order, globs expanded; a spec that matches nothing fails."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = _folder_images(path)
        elif path.exists():  # named directly: read_image says what is wrong with a FIFO or a device
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise SourceError(f"{spec}: no such image, folder or glob match")
        paths += found
    return paths


def _folder_images(folder: Path) -> list[Path]:
    """A folder's image files in name order; anything else in it is counted in one log line, not passed over silently."""
    images: list[Path] = []
    others: list[Path] = []
    for entry in sorted(folder.iterdir()):
        (images if entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file() else others).append(entry)
    if others:
        names = ", ".join(entry.name for entry in others[:3]) + (", ..." if len(others) > 3 else "")
        log.info("%s: skipped %d of %d entries, not %s files: %s", folder, len(others), len(images) + len(others),
                 "/".join(IMAGE_SUFFIXES), names)
    return images


class ImageFilesSource(FrameSource):
    """Each image once, in order; ``loop`` repeats them forever (the demo without a camera)."""

    def __init__(self, specs: Iterable[str], loop: bool = False) -> None:
        super().__init__()
        specs = list(specs)
        self.paths = expand_image_paths(specs)
        self.loop = loop
        self.name = "images:" + ",".join(specs)
        self._position = 0

    def read(self) -> tuple[np.ndarray, str]:
        if self._position >= len(self.paths):
            if not self.loop:
                raise StopIteration
            self._position = 0
        path = self.paths[self._position]
        self._position += 1
        return read_image(path), str(path)
