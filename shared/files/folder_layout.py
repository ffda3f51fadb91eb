"""The names in a photo folder's layout: ``train/`` and ``validation/`` (or ``val/``, ``test/``), a folder per class.

Kept apart from ``photo_folders`` (which decodes photos with OpenCV) so that the service's config
and the Pi's example store can name the splits without loading an image library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Optional

TRAIN = "train"
VALIDATION = ("validation", "val", "test")  # the first of these beside train/ is the validation split
SPLITS = (TRAIN, *VALIDATION)  # folder names that mark a split, never a class


def split_folders(root: Path, folders: Collection[str]) -> tuple[Path, Optional[Path]]:
    """Given the names of ``root``'s sub-folders: the training split (``root/train``, else ``root`` itself, a folder
    per class) and the validation split (``root/validation``, ``val`` or ``test``, the first there), if any."""
    validation = next((root / name for name in VALIDATION if name in folders), None)
    return (root / TRAIN if TRAIN in folders else root), validation
