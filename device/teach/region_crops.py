"""``piclassify teach --region``: examples captured as whole frames, cropped to the region the model will read.

The teach panel and the class buttons keep whole frames; a region's model reads only the region's
crop (``device/core/regions``). So the examples are cropped the same way (the same fractions, the
same rounding) into a temporary folder laid out as the original (``<class>/`` or ``train/<class>/``
and ``validation/<class>/``), and the fit reads that. At most ``limit`` images are cropped; files that
are not images are left out here and counted by the fit as it always does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from PIL import Image

from piclassify.device.core.regions import Box
from piclassify.shared.errors import DatasetError, ImageError, printable
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image


def crop_examples(folder: Path, box: Box, into: Path, limit: int) -> tuple[int, int]:
    """Each image in ``folder``'s class folders (one or two levels down) cropped to ``box``, as PNG in ``into`` at
    the same relative path; (images cropped, images that could not be read)."""
    if not folder.is_dir():
        raise DatasetError(f"{printable(folder)}: no such folder")
    cropped = unreadable = 0
    for path in _images(folder):
        if cropped >= limit:
            raise DatasetError(f"{printable(folder)}: more than {limit} photos to crop; a fit takes at most {limit}")
        try:
            rgb = read_image(path)
        except ImageError:
            unreadable += 1
            continue
        left, top, right, bottom = box.pixels(rgb.shape[1], rgb.shape[0])
        target = into / path.relative_to(folder).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb[top:bottom, left:right]).save(target)
        cropped += 1
    return cropped, unreadable


def _images(folder: Path, depth: int = 2) -> Iterator[Path]:
    """Image files in the sub-folders of ``folder`` down to ``depth`` levels (never through a symlinked folder)."""
    with os.scandir(folder) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if entry.is_dir(follow_symlinks=False) and depth > 0:
            yield from _images(Path(entry.path), depth - 1)
        elif depth < 2 and entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
            yield Path(entry.path)
