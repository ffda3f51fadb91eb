"""Make the demo's sample photos: test-set images rendered as camera photos, a few KB each as JPEG."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from piclassify.trainer.datasets import load_dataset
from piclassify.trainer.photos import render_photo

SAMPLE_SIZE = (320, 240)


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")


def make_samples(out_dir: Path, per_dataset: int = 4, data_dir: Optional[Path] = None, seed: int = 7) -> list[Path]:
    """Write ``<model>-<n>-<label>.jpg`` for the first test images of distinct classes; return the paths."""
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
            photo = render_photo(image, rng, size=(640, 480))
            small = cv2.resize(photo, SAMPLE_SIZE, interpolation=cv2.INTER_AREA)
            path = out_dir / f"{name}-{len(seen)}-{_slug(dataset.labels[int(label)])}.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
            written.append(path)
            if len(seen) == per_dataset:
                break
    return written
