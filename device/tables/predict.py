"""Predict from rows of numbers with a tabular model: parse them, note values outside the training
bounds, and run the model through the shared contract (min-max scale, quantize, invoke, decode).
A row's answer is a ``Result`` like a frame's, in the one result schema: its row number is the
frame, its inputs, notes and a regression's value go with it.

Only NumPy and the runtime are imported: no OpenCV, no Pillow, so a fresh process answers quickly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from piclassify.device.core.model_files import resolve_model
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest, Scaling, Table
from piclassify.shared.contract.result import Result
from piclassify.shared.contract.tensors import (
    Prediction,
    encode_features,
    output_probabilities,
    output_values,
    predicted_indices,
)
from piclassify.shared.tables.csv_file import TableError, cell_place, finite_number, read_csv


class TablePredictor:
    """A loaded tabular model; ``predict`` takes one row of raw feature values in the manifest's order."""

    def __init__(self, classifier: Classifier) -> None:
        manifest, table = classifier.manifest, classifier.manifest.table
        if table is None:
            raise TableError(f"{classifier.model_path.name}: an image model; --values and --csv need a table model "
                             "(see `piclassify models`)")
        self.classifier = classifier
        self.manifest: Manifest = manifest
        self.table: Table = table
        self.features = table.features

    @classmethod
    def load(cls, model: str, threads: Optional[int] = None, runtime: Optional[str] = None) -> "TablePredictor":
        return cls(Classifier.load(resolve_model(model), threads=threads, runtime=runtime))

    def predict(self, values: np.ndarray, source: str = "--values", row: Optional[int] = None) -> Result:
        """One row of raw feature values, in the manifest's order, from ``source`` (its ``row``, for a CSV): a class
        with its probabilities, or a regression's value (``extras["value"]``), with notes on values outside the
        training bounds (``extras["notes"]``)."""
        started = time.perf_counter()
        m = self.manifest
        inputs = np.asarray(values, dtype=np.float64).reshape(1, -1)
        raw = self.classifier.invoke(encode_features(inputs, m))
        extras: dict[str, Any] = {"inputs": dict(zip(self.features, (float(v) for v in inputs[0]))),
                                  "notes": list(bound_notes(inputs[0], self.features, m.scaling))}
        prediction = None
        if m.task == "regression":
            extras.update(value=round(float(output_values(raw, m)[0]), 6), unit=self.table.unit)
        else:
            probabilities = output_probabilities(raw, m)[0].astype(np.float64)
            index = int(predicted_indices(probabilities[np.newaxis], m)[0])
            prediction = Prediction(m.labels[index], index, float(probabilities[index]), probabilities, m.labels)
        latency_ms = (time.perf_counter() - started) * 1e3
        return Result(m.name, source, row or 0, time.time(), prediction, latency_ms=latency_ms, extras=extras)


def parse_values(text: str, features: tuple[str, ...]) -> np.ndarray:
    """``45.3,85.1`` in feature order, or ``exam1=45.3,exam2=85.1`` in any order -> one row of floats."""
    parts = [part.strip() for part in text.split(",")]
    named = ["=" in part for part in parts]
    wanted = f"{len(features)} ({', '.join(features)})"
    if any(named) and not all(named):
        raise TableError(f"--values {text!r}: give every value as NAME=VALUE, or none")
    if not any(named):
        if len(parts) != len(features):
            raise TableError(f"--values {text!r}: {len(parts)} value(s), but the model takes {wanted}")
        return np.array([finite_number(p, f"--values: {name}") for name, p in zip(features, parts)])
    given: dict[str, str] = {}
    for part in parts:
        name, _, cell = (s.strip() for s in part.partition("="))
        if name not in features:
            raise TableError(f"--values: unknown feature {name!r}; the model takes {wanted}")
        if name in given:
            raise TableError(f"--values: {name} is given twice")
        given[name] = cell
    missing = [name for name in features if name not in given]
    if missing:
        raise TableError(f"--values: no value for {', '.join(missing)}; the model takes {wanted}")
    return np.array([finite_number(given[name], f"--values: {name}") for name in features])


def csv_rows(path: Path, features: tuple[str, ...]) -> Iterator[tuple[int, np.ndarray | TableError]]:
    """(row number, values or the error for that row) for each data row; other columns are ignored."""
    path = Path(path)
    header, rows = read_csv(path)
    missing = [name for name in features if name not in header]
    if missing:
        raise TableError(f"{path}: no column {', '.join(repr(m) for m in missing)} (the model takes "
                         f"{', '.join(features)}; the file has {', '.join(header)})")
    columns = [header.index(name) for name in features]
    for number, (line, cells) in enumerate(rows, start=1):
        try:
            yield number, np.array([finite_number(cells[i], cell_place(path, number, line, header[i]))
                                    for i in columns])
        except TableError as exc:
            yield number, exc


def bound_notes(row: np.ndarray, features: tuple[str, ...], scaling: Scaling) -> tuple[str, ...]:
    """A note for each value outside the training rows' range: the model still answers, but extrapolates."""
    notes = []
    for name, value, low, high in zip(features, row, scaling.minimum, scaling.maximum):
        if value < low:
            notes.append(f"{name} = {value:g} is below the training minimum {low:g}")
        elif value > high:
            notes.append(f"{name} = {value:g} is above the training maximum {high:g}")
    return tuple(notes)
