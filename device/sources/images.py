"""Still images: files, folders and globs (JPEG, PNG, BMP, WebP), EXIF orientation applied."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

import numpy as np

from piclassify.device.errors import SourceError
from piclassify.device.sources.base import FrameSource
from piclassify.shared.imagefile import IMAGE_SUFFIXES, read_image


def expand_image_paths(specs: Iterable[str]) -> list[Path]:
    """Files as given, folders as their images in name order, globs expanded; a spec that matches nothing fails."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise SourceError(f"{spec}: no such image, folder or glob match")
        paths += found
    return paths


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
