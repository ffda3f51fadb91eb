"""Photo folders laid out as ``train/<class>/*.jpg`` and ``validation/<class>/*.jpg``, decoded once.

The trainer's ``piclassify-train folder`` and the Pi's ``piclassify teach`` read the same layout
(``folder_layout``). Every photo is read and framed to the model's input size with
``shared.files.imagefile`` and ``shared.framing.model_input`` (the very functions the device runs)
and held in memory as uint8. Files that are not readable images are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.folder_layout import train_folder, validation_folder
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import frame_rgb


@dataclass(frozen=True)
class PhotoSplit:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64
    skipped: list[str]


@dataclass(frozen=True)
class FolderDataset:
    classes: tuple[str, ...]
    train: PhotoSplit
    validation: PhotoSplit
    validation_name: str


def class_names(split_dir: Path) -> tuple[str, ...]:
    """Class names are the sub-folder names, in sorted order; that order is the label index."""
    names = tuple(sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(names) < 2:
        raise DatasetError(f"{split_dir}: expected at least two class folders, found {len(names)}")
    return names


def decode_photo(path: Path, width: int, height: int, resize: str) -> Optional[np.ndarray]:
    """One photo framed to (height, width, 3) exactly as the device frames it, or None when unreadable."""
    try:
        return frame_rgb(read_image(path), width, height, resize)
    except ImageError:
        return None


def load_split(split_dir: Path, classes: tuple[str, ...], width: int, height: int, resize: str,
               log: Callable[[str], None] = print, per_class: Optional[int] = None) -> PhotoSplit:
    """Each class folder's photos in file order (the first ``per_class`` readable ones of each, if given)."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    for index, name in enumerate(classes):
        folder = split_dir / name
        if not folder.is_dir():
            raise DatasetError(f"{folder}: missing (classes come from the training folder: {', '.join(classes)})")
        for path in sorted(folder.iterdir()):
            if not path.is_file() or (per_class is not None and labels.count(index) >= per_class):
                continue
            photo = decode_photo(path, width, height, resize) if path.suffix.lower() in IMAGE_SUFFIXES else None
            if photo is None:
                skipped.append(str(path))
                continue
            images.append(photo)
            labels.append(index)
    log(f"{split_dir}: {len(images)} photos in {len(classes)} classes"
        + (f", skipped {len(skipped)} unreadable or non-image files" if skipped else ""))
    if not images:
        raise DatasetError(f"{split_dir}: no readable photos")
    return PhotoSplit(np.stack(images), np.asarray(labels, dtype=np.int64), skipped)


def load_folder_dataset(root: Path, width: int, height: int, resize: str, validation_fraction: float = 0.2,
                        seed: int = 1, log: Callable[[str], None] = print) -> FolderDataset:
    """``root/train`` and ``root/validation`` (or ``root/<class>`` with a held-out share for validation)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    train_dir = train_folder(root)
    classes = class_names(train_dir)
    train = load_split(train_dir, classes, width, height, resize, log)
    validation_dir = validation_folder(root)
    if validation_dir is not None:
        return FolderDataset(classes, train, load_split(validation_dir, classes, width, height, resize, log),
                             str(validation_dir))
    order = np.random.default_rng(seed).permutation(len(train.labels))
    n_val = max(1, int(round(len(order) * validation_fraction)))
    held, kept = order[:n_val], order[n_val:]
    log(f"no validation folder: holding out {n_val} of the training photos")
    return FolderDataset(classes, PhotoSplit(train.images[kept], train.labels[kept], train.skipped),
                         PhotoSplit(train.images[held], train.labels[held], []), f"{train_dir} (held out)")

