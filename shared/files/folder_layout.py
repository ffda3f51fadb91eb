"""The names in a photo folder's layout: ``train/`` and ``validation/`` (or ``val/``, ``test/``), a folder per class.

Kept apart from ``photo_folders`` (which decodes photos with OpenCV) so that the service's config
and the Pi's example store can name the splits without loading an image library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

TRAIN = "train"
VALIDATION = ("validation", "val", "test")  # the first of these beside train/ is the validation split
SPLITS = (TRAIN, *VALIDATION)  # folder names that mark a split, never a class


def train_folder(root: Path) -> Path:
    """``root/train`` when there is one, else ``root`` itself (a folder per class)."""
    return root / TRAIN if (root / TRAIN).is_dir() else root


def validation_folder(root: Path) -> Optional[Path]:
    """``root/validation`` (or ``val``, ``test``) when there is one."""
    return next((root / name for name in VALIDATION if (root / name).is_dir()), None)
