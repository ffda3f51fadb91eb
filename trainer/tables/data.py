"""A training CSV as feature rows and a target: every column but the target is a numeric feature.

Plain ``csv`` and NumPy, no pandas: the file is small and every problem must name its row and
column (``shared/tables/csv_file.py`` reads the file as the device reads its ``--csv``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from piclassify.shared.errors import DatasetError
from piclassify.shared.tables.csv_file import cell_place, finite_number, read_csv

KINDS = ("binary", "multiclass", "regression")
MIN_ROWS = 10
MAX_CLASSES = 10  # at most this many distinct integers make a target multiclass when --kind is not given


@dataclass(frozen=True)
class TableData:
    """The CSV's feature columns as floats, and its target cells as written."""

    path: Path
    features: tuple[str, ...]
    target: str
    x: np.ndarray  # (rows, features) float64
    target_cells: tuple[str, ...]
    places: tuple[str, ...]  # where each row's target cell is, for messages


@dataclass(frozen=True)
class Target:
    """What the model learns: class indices with their labels, or values (``labels`` empty)."""

    kind: str
    y: np.ndarray  # int64 class indices, or float64 values
    labels: tuple[str, ...]


def read_table(path: Path, target: str) -> TableData:
    """Read ``path``; refuse a missing target, no features, too few rows or any non-numeric feature cell."""
    path = Path(path)
    header, rows = read_csv(path)
    if target not in header:
        raise DatasetError(f"{path}: no column {target!r} (columns: {', '.join(header)})")
    if len(header) < 2:
        raise DatasetError(f"{path}: only the target column {target!r}; there are no features")
    if len(rows) < MIN_ROWS:
        raise DatasetError(f"{path}: {len(rows)} data rows; at least {MIN_ROWS} are needed to train and hold some out")
    columns = [i for i, name in enumerate(header) if name != target]
    t = header.index(target)
    x = np.array([[finite_number(cells[i], cell_place(path, r, line, header[i])) for i in columns]
                  for r, (line, cells) in enumerate(rows, start=1)], dtype=np.float64)
    return TableData(path, tuple(header[i] for i in columns), target, x, tuple(cells[t].strip() for _, cells in rows),
                     tuple(cell_place(path, r, line, target) for r, (line, _) in enumerate(rows, start=1)))


def _as_number(cell: str) -> Optional[float]:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def infer_kind(cells: Sequence[str]) -> str:
    """binary: every value is 0 or 1, or text with two values; multiclass: other text, or at most
    ``MAX_CLASSES`` distinct integers; regression: any other numbers."""
    numbers = [_as_number(c) for c in cells]
    if any(v is None for v in numbers):
        return "binary" if len(set(cells)) == 2 else "multiclass"
    values = set(numbers)
    if values <= {0.0, 1.0}:
        return "binary"
    if all(v == int(v) for v in values) and len(values) <= MAX_CLASSES:
        return "multiclass"
    return "regression"


def make_target(data: TableData, kind: str, labels: Optional[Sequence[str]] = None) -> Target:
    """Turn the target cells into what ``kind`` trains on, with the class names in class order.

    Numeric classes are ordered by value and ``labels`` renames them (a 0/1 target is labelled
    "not <target>", "<target>" by default); text classes are the labels themselves, alphabetical
    unless ``labels`` lists them in another order.
    """
    for cell, place in zip(data.target_cells, data.places):
        if not cell:
            raise DatasetError(f"{place} is empty")
    if kind == "regression":
        y = np.array([finite_number(c, place) for c, place in zip(data.target_cells, data.places)], dtype=np.float64)
        if y.min() == y.max():
            raise DatasetError(f"{data.path}: column {data.target!r} holds the single value {y[0]:g}; nothing to learn")
        return Target(kind, y, ())
    if all(_as_number(c) is not None for c in data.target_cells):
        keys = [float(c) for c in data.target_cells]
        classes = sorted(set(keys))
        names = [f"{v:g}" for v in classes]
    else:
        keys = list(data.target_cells)
        classes = sorted(set(keys))
        names = list(classes)
        if labels:
            if sorted(labels) != classes:
                raise DatasetError(f"--labels {','.join(labels)} must list the classes of column {data.target!r}: "
                                   f"{', '.join(classes)}")
            classes = list(labels)
    if len(classes) < 2:
        raise DatasetError(f"{data.path}: column {data.target!r} holds a single class ({names[0]}); "
                           "a classifier needs at least two")
    if kind == "binary" and len(classes) != 2:
        raise DatasetError(f"{data.path}: column {data.target!r} holds {len(classes)} classes ({', '.join(names)}); "
                           "binary needs exactly two (use --kind multiclass)")
    if labels and len(labels) != len(classes):
        raise DatasetError(f"--labels gives {len(labels)} names but column {data.target!r} holds "
                           f"{len(classes)} classes ({', '.join(names)})")
    if labels:
        names = list(labels)
    elif classes == [0.0, 1.0] and kind == "binary":
        names = [f"not {data.target}", data.target]
    index = {c: i for i, c in enumerate(classes)}
    return Target(kind, np.array([index[k] for k in keys], dtype=np.int64), tuple(names))


def held_out_split(target: Target, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, held out), shuffled once with ``seed``; each class keeps its share held out."""
    rng = np.random.default_rng(seed)
    if target.labels:
        groups = [np.flatnonzero(target.y == c) for c in range(len(target.labels))]
    else:
        groups = [np.arange(len(target.y))]
    held = np.concatenate([rng.permutation(rows)[:max(1, round(len(rows) * fraction))] for rows in groups])
    train = np.setdiff1d(np.arange(len(target.y)), held)
    return rng.permutation(train), np.sort(held)
