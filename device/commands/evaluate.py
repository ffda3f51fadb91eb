"""``piclassify evaluate``: how a model does on the user's own labelled photos, "nothing in view" included.

The folder holds one sub-folder per label (named as ``piclassify info`` lists them, any case),
``nothing/`` for scenes that should get "nothing in view", and other names mapped with
``--map pants=Trouser``. Sub-folders that are none of these are skipped and named; a photo that
cannot be read is counted and named, never fatal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from piclassify.device.core.frames import Frame
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.errors import SourceError
from piclassify.shared.confusion import confusion_matrix, per_class_lines
from piclassify.shared.errors import ImageError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image

NOTHING = "nothing"


@dataclass
class Evaluation:
    """Counts for one model on one folder: ``matrix[true, answered]`` over ``labels`` (the last is "nothing")."""

    model: str
    folder: str
    labels: tuple[str, ...]
    matrix: np.ndarray
    unreadable: list[str] = field(default_factory=list)
    skipped_folders: list[str] = field(default_factory=list)

    @property
    def photos(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.matrix)) / self.photos if self.photos else 0.0

    def nothing_rate(self, rows: slice = slice(None)) -> float:
        """The share of the photos in ``rows`` that got "nothing in view"."""
        counts = self.matrix[rows]
        return float(counts[:, -1].sum()) / counts.sum() if counts.sum() else 0.0

    def record(self) -> dict[str, Any]:
        """Everything ``lines`` shows, as one JSON-ready object."""
        return {
            "model": self.model, "folder": self.folder, "photos": self.photos,
            "accuracy": round(self.accuracy, 5),
            "per_class": {label: {"photos": int(self.matrix[i].sum()), "correct": int(self.matrix[i, i])}
                          for i, label in enumerate(self.labels) if self.matrix[i].sum()},
            "nothing_in_view_rate": round(self.nothing_rate(), 5),
            "objects_answered_nothing_rate": round(self.nothing_rate(slice(0, -1)), 5),
            "confusion": {"labels": list(self.labels), "matrix": self.matrix.tolist()},
            "unreadable": self.unreadable, "skipped_folders": self.skipped_folders,
        }

    def lines(self) -> list[str]:
        width = max(len(label) for label in self.labels)
        out = [f"{self.model} on {self.folder}: {self.photos} photos", "per class (correct/photos):"]
        out += per_class_lines(self.matrix, self.labels)
        out.append(f"accuracy {100 * self.accuracy:.2f}%; nothing in view for {100 * self.nothing_rate():.1f}% of "
                   f"all photos, wrongly for {100 * self.nothing_rate(slice(0, -1)):.1f}% of those showing an object")
        out.append("confusion matrix (rows: true, columns: answered):")
        out.append(" " * (width + 2) + " ".join(f"{label[:7]:>7}" for label in self.labels))
        for label, row in zip(self.labels, self.matrix):
            out.append(f"  {label:<{width}}" + " ".join(f"{count:7d}" for count in row))
        if self.skipped_folders:
            out.append(f"skipped folders (not labels of {self.model}; use --map FOLDER=LABEL): "
                       + ", ".join(self.skipped_folders))
        if self.unreadable:
            out.append(f"unreadable: {len(self.unreadable)} ({', '.join(self.unreadable)})")
        return out


def parse_map(text: Optional[str]) -> dict[str, str]:
    """``pants=Trouser,t-shirt=T-shirt/top`` -> {"pants": "Trouser", ...}; folder names compare in lower case."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        folder, sep, label = item.partition("=")
        if not sep or not folder.strip() or not label.strip():
            raise SourceError(f"--map {item!r}: expected FOLDER=LABEL, e.g. pants=Trouser")
        mapping[folder.strip().lower()] = label.strip()
    return mapping


def evaluate_folder(pipeline: Pipeline, folder: Path, mapping: Mapping[str, str]) -> Evaluation:
    """Classify every photo under ``folder``'s label sub-folders and count what each got."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder")
    manifest = pipeline.manifest
    answers = tuple(label for label in manifest.labels if label != manifest.reject.background_label)
    labels = answers + (NOTHING,)
    by_name = {label.lower(): index for index, label in enumerate(labels)}
    for name, label in mapping.items():
        if label.lower() not in by_name:
            raise SourceError(f"--map {name}={label}: {label!r} is not a label of {manifest.name} "
                              f"({', '.join(labels)})")
    truth, answered, unreadable, skipped = [], [], [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        row = by_name.get(mapping.get(sub.name.lower(), sub.name).lower())
        if row is None:
            skipped.append(sub.name)
            continue
        for number, path in enumerate(sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)):
            try:
                result = pipeline.classify(Frame(read_image(path), time.time(), number, str(path)))
            except ImageError:
                unreadable.append(str(path))
                continue
            truth.append(row)
            answered.append(len(answers) if result.label is None else answers.index(result.label))
    if not truth:
        raise SourceError(f"{folder}: no readable photos in sub-folders named after labels of {manifest.name} "
                          f"({', '.join(labels)}) or mapped with --map")
    return Evaluation(manifest.name, str(folder), labels, confusion_matrix(np.array(truth), np.array(answered),
                                                                           len(labels)), unreadable, skipped)
