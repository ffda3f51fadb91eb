"""Make the demo's sample photos: test-set images rendered as camera photos, a few KB each as JPEG,
and two empty scenes (a bare tabletop, a blank sheet of paper) that every photo model must answer
with "nothing in view"."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from piclassify.trainer.datasets import load_dataset
from piclassify.trainer.photos import render_photo
from piclassify.trainer.scenes import render_empty_scene

SAMPLE_SIZE = (320, 240)
EMPTY_SAMPLES = ("tabletop", "paper")  # nothing-<n>-<kind>.jpg, shown by the demo with every photo model


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")


def make_samples(out_dir: Path, per_dataset: int = 4, data_dir: Optional[Path] = None, seed: int = 7) -> list[Path]:
    """Write ``<model>-<n>-<label>.jpg`` for the first test images of distinct classes, and
    ``nothing-<n>-<kind>.jpg`` for the empty scenes; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for name in ("digits", "fashion"):
        dataset = load_dataset(name, data_dir)
        seen: set[int] = set()
        for image, label in zip(dataset.x_test, dataset.y_test):
            if int(label) in seen:
                continue
            seen.add(int(label))
            path = out_dir / f"{name}-{len(seen)}-{_slug(dataset.labels[int(label)])}.jpg"
            written.append(_write_sample(path, render_photo(image, rng, size=(640, 480))))
            if len(seen) == per_dataset:
                break
    return written + make_empty_samples(out_dir, seed)


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
