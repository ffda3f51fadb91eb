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
from piclassify.shared.confusion import confusion_matrix
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
    def labelled(self) -> np.ndarray:
        """The rows of the model's labels (the last row is the photos of other things, ``nothing/``)."""
        return self.matrix[:-1]

    def rate(self, count: int, rows: np.ndarray) -> float:
        return count / int(rows.sum()) if rows.sum() else 0.0

    @property
    def labelled_right(self) -> float:
        """The share of the labelled photos answered with their own label: "nothing" is wrong for them."""
        return self.rate(int(np.trace(self.labelled)), self.labelled)

    @property
    def labelled_nothing(self) -> float:
        return self.rate(int(self.labelled[:, -1].sum()), self.labelled)

    @property
    def others_nothing(self) -> float:
        """The share of the other things (``nothing/``) answered "nothing in view", which is right for them."""
        return self.rate(int(self.matrix[-1, -1]), self.matrix[-1:])

    def title(self) -> str:
        """The report's title: its labels' photos and the other things, each measured apart."""
        parts = [f"{self.model}: {100 * self.labelled_right:.1f}% of {int(self.labelled.sum())} labelled photos right"]
        if self.matrix[-1].sum():
            parts.append(f"{100 * self.others_nothing:.0f}% of {int(self.matrix[-1].sum())} other things nothing")
        return "; ".join(parts)

    def record(self) -> dict[str, Any]:
        """Everything ``lines`` shows, as one JSON-ready object."""
        labelled, others = self.labelled, self.matrix[-1]
        return {
            "model": self.model, "folder": self.folder, "photos": self.photos,
            "labelled": {"photos": int(labelled.sum()), "right": int(np.trace(labelled)),
                         "right_rate": round(self.labelled_right, 5),
                         "nothing": int(labelled[:, -1].sum()), "nothing_rate": round(self.labelled_nothing, 5)},
            "other_things": {"photos": int(others.sum()), "nothing": int(others[-1]),
                             "nothing_rate": round(self.others_nothing, 5)},
            "per_class": {label: {"photos": int(row.sum()), "correct": int(row[i]), "nothing": int(row[-1])}
                          for i, (label, row) in enumerate(zip(self.labels, self.matrix)) if row.sum()},
            "confusion": {"labels": list(self.labels), "matrix": self.matrix.tolist()},
            "unreadable": self.unreadable, "skipped_folders": self.skipped_folders,
        }

    def lines(self) -> list[str]:
        width = max(len(label) for label in self.labels)
        labelled, others = int(self.labelled.sum()), int(self.matrix[-1].sum())
        out = [f"{self.model} on {self.folder}: {labelled} photos of its labels, {others} of other things (nothing/)",
               'per class (right/photos, and how many were answered "nothing"):']
        for i, (label, row) in enumerate(zip(self.labels[:-1], self.labelled)):
            if row.sum():
                out.append(f"  {label:<{width}}  {int(row[i]):5d}/{int(row.sum()):<5d}  "
                           f"{100.0 * row[i] / row.sum():6.2f}%  ({int(row[-1])} nothing)")
        if labelled:
            out.append(f"photos of its labels: {100 * self.labelled_right:.2f}% right; "
                       f'{100 * self.labelled_nothing:.1f}% wrongly answered "nothing"')
        if others:
            out.append(f'other things: {100 * self.others_nothing:.1f}% rightly answered "nothing" '
                       f"({int(self.matrix[-1, -1])} of {others})")
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
