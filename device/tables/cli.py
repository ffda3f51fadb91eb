"""The CLI for tabular models: ``predict --values/--csv`` and ``import`` of a workshop model.

``device/commands/cli.py`` adds ``add_values_options`` to ``predict`` and calls ``predict_table`` when values are
given; ``device/imports/cli.py`` calls ``import_command`` for ``import --min-max``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from piclassify.shared.tables.csv_file import TableError

if TYPE_CHECKING:
    from piclassify.shared.contract.result import Result


def add_values_options(predict: argparse.ArgumentParser) -> None:
    predict.add_argument("--values", metavar="V1,V2,...",
                         help="one row for a table model, in feature order (45.3,85.1) or by name "
                              "(exam1=45.3,exam2=85.1); starting with a negative number, write --values=-5,3")
    predict.add_argument("--csv", type=Path, metavar="FILE",
                         help="rows for a table model: a CSV whose header names the model's features "
                              "(other columns are ignored)")


def names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if "" in names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct comma-separated names")
    return names


def predict_table(args: argparse.Namespace) -> int:
    """``piclassify predict --values ...`` or ``--csv FILE``: one line (or JSON object) per row."""
    from piclassify.device.tables.predict import TablePredictor, csv_rows, parse_values

    if getattr(args, "images", None):
        raise TableError("give image files, or --values/--csv for a table model, not both")
    if args.values is not None and args.csv is not None:
        raise TableError("give --values or --csv, not both")
    if getattr(args, "debug_dir", None):
        raise TableError("--debug-dir saves framing steps of images; a table model has none")
    predictor = TablePredictor.load(args.model, threads=args.threads, runtime=args.runtime)
    if args.values is not None:
        _show(predictor.predict(parse_values(args.values, predictor.features)), "", args.json)
        return 0
    failures = 0
    for number, row in csv_rows(args.csv, predictor.features):
        if isinstance(row, TableError):
            failures += 1
            print(f"piclassify: error: {row}", file=sys.stderr)
            continue
        _show(predictor.predict(row, str(args.csv), number), f"{args.csv} row {number}: ", args.json)
    return 2 if failures else 0


def _show(result: Result, where: str, as_json: bool) -> None:
    """JSON carries the notes inside; text keeps stdout to one answer per row (``where`` says which) and puts notes
    on stderr."""
    if as_json:
        print(json.dumps(result.record()), flush=True)
        return
    for note in result.extras["notes"]:
        print(f"piclassify: note: {where}{note}", file=sys.stderr)
    print(where + answer_text(result), flush=True)


def answer_text(result: Result) -> str:
    """``admitted (0.87)``, or a regression's value with its unit: ``27.0 m``."""
    if result.prediction is not None:
        return f"{result.label} ({result.score:.2f})"
    unit = result.extras["unit"]
    return f"{result.extras['value']:.6g}" + (f" {unit}" if unit else "")


def import_command(args: argparse.Namespace) -> int:
    from piclassify.device.tables.workshop_import import import_workshop_model

    manifest, path = import_workshop_model(args.tflite, args.min_max, args.name, args.out, labels=args.labels,
                                           features=args.features, target=args.target, unit=args.unit,
                                           runtime=args.runtime)
    kind = f"{manifest.task}: {', '.join(manifest.labels)}" if manifest.labels else manifest.task
    example = ",".join(f"{(lo + hi) / 2:g}" for lo, hi in zip(manifest.scaling.minimum, manifest.scaling.maximum))
    features = manifest.table.features if manifest.table is not None else ()
    print(f"wrote {path} and {path.with_suffix('.json')} ({kind}; features {', '.join(features)})")
    print(f"try: piclassify predict --model {path} --values {example}")
    return 0
