"""Photo folders laid out as ``train/<class>/*.jpg`` and ``validation/<class>/*.jpg``: listed, then read one by one.

The trainer's ``piclassify-train folder`` and the Pi's ``piclassify teach`` read the same layout
(``folder_layout``). A split is first listed (``list_split``: file names only, at most a given number),
then its photos are read and framed to the model's input size one at a time as they are wanted
(``FramedPhotos``), with ``shared.files.imagefile`` and ``shared.framing.model_input``, the very
functions the device runs. The Pi's fit keeps only what the backbone makes of each photo, so its
memory grows with the number of photos, not with their pixels; the trainer holds a split in memory as
uint8 (``load_split``). Files that are not readable images are skipped and counted. A folder that
cannot be listed, and a class folder whose name could not be a model's label, are one line.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from piclassify.shared.contract.manifest_fields import text_problem
from piclassify.shared.errors import DatasetError, ImageError, printable
from piclassify.shared.files.folder_layout import split_folders
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import frame_rgb


@dataclass(frozen=True)
class PhotoSplit:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64
    skipped: int  # files left out: not images, or not readable ones


@dataclass(frozen=True)
class FolderDataset:
    classes: tuple[str, ...]
    train: PhotoSplit
    validation: PhotoSplit
    validation_name: str


@dataclass(frozen=True)
class PhotoList:
    """A split's image files, listed and not yet read, in class then file order, each with its class's index."""

    folder: Path
    paths: tuple[Path, ...]
    labels: np.ndarray  # (N,) int64
    others: int  # files left out for not being images (by their suffix)

    def per_class(self, classes: tuple[str, ...]) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(classes))
        return {name: int(count) for name, count in zip(classes, counts)}


class FramedPhotos:
    """The photos of a ``PhotoList``, each read and framed to (height, width, 3) as it is iterated, never all at once;
    afterwards ``labels`` are the classes of the photos that were read and ``skipped`` the files that were not."""

    def __init__(self, listing: PhotoList, width: int, height: int, resize: str) -> None:
        self.listing, self.width, self.height, self.resize = listing, width, height, resize
        self.skipped: list[str] = []
        self._labels: list[int] = []

    def __len__(self) -> int:
        return len(self.listing.paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        self.skipped, self._labels = [], []
        for path, label in zip(self.listing.paths, self.listing.labels):
            photo = decode_photo(path, self.width, self.height, self.resize)
            if photo is None:
                self.skipped.append(str(path))
                continue
            self._labels.append(int(label))
            yield photo

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self._labels, dtype=np.int64)


def folder_splits(root: Path) -> tuple[Path, Optional[Path]]:
    """``root``'s training split and its validation split, if any (``folder_layout.split_folders``)."""
    return split_folders(root, {entry.name for entry in _listed(root) if _is_dir(entry)})


def class_names(split_dir: Path) -> tuple[str, ...]:
    """Class names are the sub-folder names, in sorted order (that order is the label index); hidden and empty ones
    are left out. Each must be able to be a label: a name the manifest's check would refuse is refused here."""
    names = []
    for entry in _listed(split_dir):
        if entry.name.startswith(".") or not _is_dir(entry):
            continue
        problem = text_problem(entry.name)
        if problem is not None:
            raise DatasetError(f"{printable(split_dir)}: the class folder '{printable(entry.name, 64)}' cannot name a "
                               f"class: a class name must be {problem}")
        if any(True for _ in _listed(Path(entry.path))):
            names.append(entry.name)
    names.sort()
    if len(names) < 2:
        raise DatasetError(f"{printable(split_dir)}: expected at least two class folders with photos, found "
                           f"{len(names)}")
    return tuple(names)


def list_split(split_dir: Path, classes: tuple[str, ...], per_class: Optional[int] = None,
               limit: Optional[int] = None) -> PhotoList:
    """Each class folder's image files in name order (the first ``per_class`` of each, if given); more than
    ``limit`` in all is a ``DatasetError``, found without ever holding more names than that."""
    paths: list[Path] = []
    labels: list[int] = []
    others = 0
    for index, name in enumerate(classes):
        folder = split_dir / name
        counted = [0]
        images = _image_names(folder, counted)
        wanted = [count for count in (per_class, None if limit is None else limit - len(paths) + 1) if count]
        names = heapq.nsmallest(min(wanted), images) if wanted else sorted(images)
        if limit is not None and len(paths) + len(names) > limit:
            raise DatasetError(f"{printable(split_dir)}: more than {limit:,} photos, more than one fit takes here "
                               "(--per-class N learns from the first N of each class)")
        paths += [folder / file_name for file_name in names]
        labels += [index] * len(names)
        others += counted[0]
    return PhotoList(split_dir, tuple(paths), np.asarray(labels, dtype=np.int64), others)


def decode_photo(path: Path, width: int, height: int, resize: str) -> Optional[np.ndarray]:
    """One photo framed to (height, width, 3) exactly as the device frames it, or None when unreadable."""
    try:
        return frame_rgb(read_image(path), width, height, resize)
    except ImageError:
        return None


def load_split(split_dir: Path, classes: tuple[str, ...], width: int, height: int, resize: str,
               log: Callable[[str], None] = print, per_class: Optional[int] = None) -> PhotoSplit:
    """Each class folder's photos in file order (the first ``per_class`` of each, if given), all in memory."""
    photos = FramedPhotos(list_split(split_dir, classes, per_class), width, height, resize)
    images = list(photos)
    skipped = len(photos.skipped) + photos.listing.others
    log(f"{split_dir}: {len(images)} photos in {len(classes)} classes"
        + (f", skipped {skipped} unreadable or non-image files" if skipped else ""))
    if not images:
        raise DatasetError(f"{split_dir}: no readable photos")
    return PhotoSplit(np.stack(images), photos.labels, skipped)


def load_folder_dataset(root: Path, width: int, height: int, resize: str, validation_fraction: float = 0.2,
                        seed: int = 1, log: Callable[[str], None] = print) -> FolderDataset:
    """``root/train`` and ``root/validation`` (or ``root/<class>`` with a held-out share for validation)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    train_dir, validation_dir = folder_splits(root)
    classes = class_names(train_dir)
    train = load_split(train_dir, classes, width, height, resize, log)
    if validation_dir is not None:
        return FolderDataset(classes, train, load_split(validation_dir, classes, width, height, resize, log),
                             str(validation_dir))
    order = np.random.default_rng(seed).permutation(len(train.labels))
    n_val = max(1, int(round(len(order) * validation_fraction)))
    held, kept = order[:n_val], order[n_val:]
    log(f"no validation folder: holding out {n_val} of the training photos")
    return FolderDataset(classes, PhotoSplit(train.images[kept], train.labels[kept], train.skipped),
                         PhotoSplit(train.images[held], train.labels[held], 0), f"{train_dir} (held out)")


def _image_names(folder: Path, others: list[int]) -> Iterator[str]:
    """The names of ``folder``'s image files as they are listed; ``others[0]`` counts its other files."""
    for entry in _listed(folder, "missing (classes come from the training folder)"):
        if not _is_file(entry):
            continue
        if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
            yield entry.name
        else:
            others[0] += 1


def _listed(folder: Path, missing: str = "no such folder") -> Iterator[os.DirEntry[str]]:
    """``folder``'s entries as they are listed; a folder that cannot be listed is one ``DatasetError`` line."""
    try:
        with os.scandir(folder) as entries:
            yield from entries
    except FileNotFoundError:
        raise DatasetError(f"{printable(folder)}: {missing}") from None
    except OSError as exc:
        raise DatasetError(f"{printable(folder)}: cannot list it: {exc.strerror or exc}") from None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False
