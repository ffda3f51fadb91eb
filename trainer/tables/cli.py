"""The ``piclassify-train table`` command: its options, and the lazy hand-off to the recipe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from piclassify.trainer.tables.data import KINDS, MAX_CLASSES


def add_table_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "table", help="a CSV of numbers: the workshop's admission classifier, or any regression",
        description="Train on a CSV with a header: every column but --target is a numeric feature, min-max scaled "
                    "with the training rows' bounds (kept in the manifest). 20% of the rows, drawn with --seed, "
                    "are held out and give the manifest its numbers.",
        epilog="Example: piclassify-train table admission.csv --target admitted --name admission --out models/")
    p.add_argument("csv", type=Path, help="CSV file with a header line")
    p.add_argument("--target", required=True, help="the column to predict, e.g. admitted")
    p.add_argument("--name", required=True, help="model name, e.g. admission (becomes <name>.tflite)")
    p.add_argument("--kind", choices=KINDS,
                   help="default: inferred from the target: all 0/1 -> binary; text, or at most "
                        f"{MAX_CLASSES} distinct integers -> multiclass (two text values -> binary); "
                        "other numbers -> regression")
    p.add_argument("--labels", type=_names,
                   help='class names in class order, e.g. "not admitted,admitted" (default for a 0/1 target: '
                        '"not <target>,<target>"; otherwise the values)')
    p.add_argument("--unit", default="", help="the regression target's unit, shown with each prediction")
    p.add_argument("--arch", choices=("dense", "mlp"), default="dense",
                   help="dense: the workshop's single layer (logistic/linear regression, default); "
                        "mlp: two hidden layers of 16")
    p.add_argument("--epochs", type=int, help="passes over the training rows (default 1000 dense, 500 mlp)")
    p.add_argument("--quantize", choices=("float32", "int8"), default="float32",
                   help="float32 (default: such models are tiny) or int8 with the input quantization in the manifest")
    p.add_argument("--out", type=Path, default=Path("models"), help="output folder (default ./models)")
    p.add_argument("--seed", type=int, default=1, help="seed for the held-out split and training (default 1)")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if len(names) < 2 or "" in names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct comma-separated names, e.g. \"no,yes\"")
    return names


def run_table(args: argparse.Namespace, log: Callable[[str], None]) -> None:
    from piclassify.trainer.tables.recipe import train_table_model

    train_table_model(args.csv, args.target, args.name, kind=args.kind, labels=args.labels, unit=args.unit,
                      arch=args.arch, epochs=args.epochs, quantization=args.quantize, out_dir=args.out,
                      seed=args.seed, log=log)
