"""Still images: files, folders and globs (JPEG, PNG, BMP, WebP), EXIF orientation applied.

Watched (the service), a source lists its folders again when its images run out and goes on with
the files it has not seen yet; with none, it says ``NothingYet`` and the loop asks again a second
later. An empty folder waits too. What it has seen is only ever the current listing, so its memory
is the folder's size, and a file deleted and written again is new.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from piclassify.device.core.sources.base import FrameSource, NothingYet
from piclassify.device.errors import SourceError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image

log = logging.getLogger(__name__)


def expand_image_paths(specs: Iterable[str], empty_folders: bool = False,
                       named: Optional[set[Path]] = None) -> list[Path]:
    """Files as given, folders as their images in name order, globs expanded; a spec that matches nothing fails
    (a folder with no images too, unless ``empty_folders``). ``named``: the other entries already named in a log
    line (a watched folder is listed again every second), which are not named again."""
    paths: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = _folder_images(path, named)
            if empty_folders:
                paths += found
                continue
        elif path.exists():  # named directly: read_image says what is wrong with a FIFO or a device
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(spec) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise SourceError(f"{spec}: no such image, folder or glob match")
        paths += found
    return paths


def _folder_images(folder: Path, named: Optional[set[Path]] = None) -> list[Path]:
    """A folder's image files in name order; anything else in it is counted in one log line, not passed over
    silently, and only once while it stays (``named`` keeps what was named, no more than the folder holds)."""
    images: list[Path] = []
    others: list[Path] = []
    for entry in sorted(folder.iterdir()):
        (images if entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file() else others).append(entry)
    new = others
    if named is not None:
        named.intersection_update(others + [p for p in named if p.parent != folder])
        new = [entry for entry in others if entry not in named]
        named.update(new)
    if new:
        names = ", ".join(entry.name for entry in new[:3]) + (", ..." if len(new) > 3 else "")
        log.info("%s: skipped %d of %d entries, not %s files: %s", folder, len(new), len(images) + len(others),
                 "/".join(IMAGE_SUFFIXES), names)
    return images


class ImageFilesSource(FrameSource):
    """Each image once, in order; ``loop`` repeats them forever (the demo without a camera); ``watch`` goes on with
    images that appear later (the service watching a folder)."""

    still = True

    def __init__(self, specs: Iterable[str], loop: bool = False, watch: bool = False) -> None:
        super().__init__()
        self.specs = list(specs)
        self.loop, self.watch = loop, watch
        self.name = "images:" + ",".join(self.specs)
        self._position = 0
        self._seen: set[Path] = set()
        self._named: set[Path] = set()  # the entries that are not images, each named in the log once
        self.paths = expand_image_paths(self.specs, empty_folders=watch, named=self._named)

    def read(self) -> tuple[np.ndarray, str]:
        if self._position >= len(self.paths):
            if self.watch:
                self._list_again()
            elif self.loop:
                self._position = 0
            else:
                raise StopIteration
        path = self.paths[self._position]
        self._position += 1
        self._seen.add(path)
        return read_image(path), str(path)

    def _list_again(self) -> None:
        """The images not seen yet, in name order; ``NothingYet`` when there are none (or the folder has gone)."""
        try:
            listing = expand_image_paths(self.specs, empty_folders=True, named=self._named)
        except (SourceError, OSError):
            listing = []
        self._seen &= set(listing)  # only what is still there: bounded by the folder, and a rewritten file is new
        self.paths, self._position = [path for path in listing if path not in self._seen], 0
        if not self.paths:
            raise NothingYet(self.name)
