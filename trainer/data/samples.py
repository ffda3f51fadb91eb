"""Make the demo's sample photos: MNIST test digits rendered as camera photos, real garment photos of
``clothing-photos/validation`` (CC0), a few KB each as JPEG, and two empty scenes (a bare tabletop, a
blank sheet of paper) that every photo model must answer with "nothing in view".

The pet photos (``catsdogs-*.jpg``) are not made here: they are photos taken by people, bundled with
their licences (README, "The bundled models").
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from piclassify.shared.errors import DatasetError
from piclassify.trainer.data.clothing import MAPPED, find_photos
from piclassify.trainer.data.datasets import load_dataset
from piclassify.trainer.data.photos import SAMPLE_SIZE, render_photo
from piclassify.trainer.data.scenes import render_empty_scene

EMPTY_SAMPLES = ("tabletop", "paper")  # nothing-<n>-<kind>.jpg, shown by the demo with every photo model


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")


def make_samples(out_dir: Path, per_dataset: int = 4, data_dir: Optional[Path] = None, seed: int = 7) -> list[Path]:
    """Write ``digits-<n>-<label>.jpg`` for the first MNIST test digits of distinct classes, ``fashion-<n>-<label>.jpg``
    for the first validation photo of each exact clothing class, and ``nothing-<n>-<kind>.jpg`` for the empty scenes;
    return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    dataset = load_dataset("digits", data_dir)
    seen: set[int] = set()
    for image, label in zip(dataset.x_test, dataset.y_test):
        if int(label) in seen:
            continue
        seen.add(int(label))
        path = out_dir / f"digits-{len(seen)}-{_slug(dataset.labels[int(label)])}.jpg"
        written.append(_write_sample(path, render_photo(image, rng, size=(640, 480))))
        if len(seen) == per_dataset:
            break
    return written + make_garment_samples(out_dir, per_dataset, data_dir) + make_empty_samples(out_dir, seed)


def make_garment_samples(out_dir: Path, count: int, data_dir: Optional[Path] = None) -> list[Path]:
    """``fashion-<n>-<label>.jpg``: the first validation photo of each exact class (t-shirt, pants, dress, shirt),
    photos nobody trained on, copied as they are (CC0); whatever the model answers for them, the demo shows."""
    root = find_photos(None, data_dir)
    if root is None:
        raise DatasetError("the fashion samples are real garment photos: --data-dir must hold clothing-photos")
    exact = [folder for folder, (_, match) in MAPPED.items() if match == "exact"][:count]
    written = []
    for number, folder in enumerate(exact, start=1):
        first = sorted((root / "validation" / folder).glob("*.jpg"))[0]
        path = out_dir / f"fashion-{number}-{_slug(MAPPED[folder][0])}.jpg"
        path.write_bytes(first.read_bytes())
        written.append(path)
    return written


def make_empty_samples(out_dir: Path, seed: int = 7) -> list[Path]:
    """Write ``nothing-<n>-<kind>.jpg`` for each of ``EMPTY_SAMPLES``; return the paths."""
    rng = np.random.default_rng(seed)
    return [_write_sample(out_dir / f"nothing-{number}-{kind}.jpg", render_empty_scene(kind, rng, size=(640, 480)))
            for number, kind in enumerate(EMPTY_SAMPLES, start=1)]


def _write_sample(path: Path, photo: np.ndarray) -> Path:
    """A 640x480 RGB photo as a small JPEG, the way a phone's would be kept."""
    small = cv2.resize(photo, SAMPLE_SIZE, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return path
