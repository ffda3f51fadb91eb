"""``--check DIR``: every plausible reading of an imported model's input, measured on labelled photos.

``DIR/<label>/`` holds photos of each label (folder names as the labels, any case). Each photo is read once
and framed every way the readings frame it, through the device's own framing; each reading then encodes,
runs and decodes through the device's own contract. The most accurate reading wins, the tool's default on a
tie, and all are printed: a reading that is wrong cannot pass silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.tensors import InputEncoder, output_probabilities, predicted_indices
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import frame_for_model, shrink
from piclassify.shared.imports.readings import Reading, apply_reading

MAX_PER_CLASS = 50  # photos per label: enough to tell readings apart, and a Pi's memory holds them
MAX_SIDE = 1600  # larger photos are shrunk to this on reading (a 12 MP photo is 36 MB)
MARGIN = 0.02  # of the photos: how much better than the documented reading another must be to replace it


@dataclass(frozen=True)
class LabelledPhotos:
    """Photos with the index of the label each shows."""

    photos: list[np.ndarray]
    labels: np.ndarray
    where: str


@dataclass(frozen=True)
class Checked:
    """One reading's accuracy on the photos."""

    reading: Reading
    right: int
    photos: int

    @property
    def accuracy(self) -> float:
        return self.right / self.photos


def labelled_photos(folder: Path, labels: tuple[str, ...], log: Callable[[str], None],
                    per_class: int = MAX_PER_CLASS) -> LabelledPhotos:
    """The photos of ``folder/<label>/`` (any case; a folder that names no label is an error, naming them)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    by_name = {label.casefold(): index for index, label in enumerate(labels)}
    photos, indices, skipped, capped = [], [], 0, []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        index = by_name.get(sub.name.casefold())
        if index is None:
            raise DatasetError(f"{sub}: names no label of the model ({', '.join(labels)[:200]})")
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) > per_class:
            capped.append(sub.name)
        for path in files[:per_class]:
            try:
                photos.append(_bounded(read_image(path)))
            except ImageError:
                skipped += 1
                continue
            indices.append(index)
    if not photos:
        raise DatasetError(f"{folder}: no readable photos in folders named as the labels ({', '.join(labels)[:200]})")
    log(f"{folder}: {len(photos)} photos of {len(set(indices))} labels" + (f", {skipped} unreadable" if skipped else "")
        + (f" (the first {per_class} of {', '.join(capped)})" if capped else ""))
    return LabelledPhotos(photos, np.asarray(indices), str(folder))


def _bounded(photo: np.ndarray) -> np.ndarray:
    height, width = photo.shape[:2]
    scale = MAX_SIDE / max(height, width)
    return photo if scale >= 1 else shrink(photo, max(1, round(width * scale)), max(1, round(height * scale)))


def answers(classifier: Classifier, manifest: Manifest, framed: list[Optional[np.ndarray]]) -> np.ndarray:
    """The model's label index for each framed image (-1 where the framing found nothing), through ``manifest``."""
    encoder = InputEncoder(manifest)
    found = []
    for image in framed:
        if image is None:
            found.append(-1)
            continue
        probabilities = output_probabilities(classifier.invoke(encoder.encode(image)), manifest)
        found.append(int(predicted_indices(probabilities, manifest)[0]))
    return np.asarray(found)


def check_readings(classifier: Classifier, readings: list[Reading], photos: LabelledPhotos) -> list[Checked]:
    """Each reading's accuracy on ``photos``; each framing is computed once for the readings that share it."""
    framings: dict[tuple[str, str, str, str], list[Optional[np.ndarray]]] = {}
    checked = []
    for reading in readings:
        manifest = apply_reading(classifier.manifest, reading)
        key = (reading.resize, reading.resample, "gray" if reading.colour == "gray" else "colour", reading.polarity)
        if key not in framings:
            framings[key] = [frame_for_model(photo, manifest).image for photo in photos.photos]
        right = int(np.sum(answers(classifier, manifest, framings[key]) == photos.labels))
        checked.append(Checked(reading, right, len(photos.labels)))
    return checked


def best_of(checked: list[Checked]) -> Checked:
    """The most accurate reading (on a tie the earliest); the default (the first) stays unless the best gets more
    than ``MARGIN`` more of the photos right, and at least two photos: less is what chance makes of a few photos
    (x/255 and x feed a Dense ReLU network nearly the same answers)."""
    best = max(checked, key=lambda item: (item.right, -checked.index(item)))
    default = checked[0]
    gained = best.right - default.right
    return best if gained >= 2 and gained > MARGIN * default.photos else default
