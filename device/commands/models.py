"""``piclassify models`` and ``piclassify info``: which models there are, and what one of them is.

``info`` prints a model's contract as rows in one order: what it is, what goes in and how it is
framed, what the backbone and the head do (photo models), when nothing is in view, what comes out,
and how it was measured and converted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from piclassify.shared.backbone.gate import gate_summary
from piclassify.shared.errors import PiclassifyError, printable

if TYPE_CHECKING:
    from piclassify.shared.classifier import Classifier
    from piclassify.shared.contract.manifest import Manifest

Rows = list[tuple[str, str]]


def cmd_models(args: argparse.Namespace) -> int:
    """Every model, bundled and taught: each checked as loading it checks (short of the runtime), and a model that
    cannot load is shown as broken, with why. 2 when the taught models' folder cannot be listed."""
    from piclassify.device.core.model_files import bundled_model_paths, taught_model_paths
    from piclassify.device.errors import ModelFolderError

    taught, unlisted = [], None
    try:
        taught = taught_model_paths()
    except ModelFolderError as error:
        unlisted = error
    print(f"{'name':<10} {'task':<10} {'classes':>7} {'input':<12} {'accuracy':>9} {'size':>9}  test set")
    for path in bundled_model_paths() + taught:
        print(_model_row(path))
    if unlisted is not None:
        print(f"piclassify: error: {unlisted}", file=sys.stderr)
        return 2
    return 0


def _model_row(path: Path) -> str:
    """One model's row, or ``NAME  broken: why`` for one that cannot load."""
    from piclassify.shared.classifier import check_model_files

    try:
        m = check_model_files(path)
        size = f"{path.stat().st_size / 1024:.0f} KiB"
    except (PiclassifyError, OSError) as error:
        why = str(error) if isinstance(error, PiclassifyError) else f"{path}: {error.strerror or error}"
        why = why.replace(f"{path.parent}{os.sep}", "")  # the folder is the same on every row
        return f"{printable(path.stem, 64):<10} broken: {printable(why, 240)}"
    accuracy, test_set = m.measured_accuracy or (None, "")
    shown = f"{100 * accuracy:.2f}%" if accuracy is not None else "n/a"
    shape = f"{len(m.table.features)} values" if m.table else f"{m.height}x{m.width}x{m.channels}"
    return f"{m.name:<10} {m.task:<10} {len(m.labels):>7} {shape:<12} {shown:>9} {size:>9}  {printable(test_set)}"


def cmd_info(args: argparse.Namespace) -> int:
    from piclassify.device.core.model_files import resolve_model
    from piclassify.shared.classifier import Classifier

    classifier = Classifier.load(resolve_model(args.model), runtime=args.runtime)
    for key, value in info_rows(classifier):
        print(f"{key:>15}: {value}" if key else f"{'':>17}{value}")  # no key: the row above goes on
    return 0


def info_rows(classifier: Classifier) -> Rows:
    """The model's rows, in order; a model with no network of its own (all head) shows the backbone and the head
    in place of its input, framing and output."""
    m = classifier.manifest
    rows = [("model", str(classifier.model_path)),
            ("runtime", f"{classifier.runtime.name} {classifier.runtime.version}"),
            ("task", m.task + (f" (threshold {m.threshold})" if m.task == "binary" else "")),
            ("labels", ", ".join(m.labels) or "none")]
    if m.table is not None:
        rows += [("input", f"{', '.join(m.table.features)} (min-max scaled from the training rows' bounds)"),
                 ("target", m.table.target + (f" in {m.table.unit}" if m.table.unit else "")),
                 _output_row(m)]
    elif m.is_all_head:
        rows += _backbone_rows(classifier) + [("gate", gate_summary(m))]
    else:
        rows += [("input", f"{m.height}x{m.width}x{m.channels} {m.colour}, {m.input.dtype} (scale "
                           f"{m.input.quantization.scale:.6g}, zero point {m.input.quantization.zero_point})"),
                 ("framing", f"resize {m.resize}, polarity {m.polarity}, scaling {m.scaling.mode}")]
        if m.backbone is not None:
            rows += _backbone_rows(classifier)
        rows += [("nothing in view", ", ".join(f"{k} {v}" for k, v in vars(m.reject).items() if v)),
                 ("gate", gate_summary(m)), _output_row(m)]
    return rows + nested_rows("metrics", m.metrics) + [
        ("converted by", ", ".join(f"{k} {v}" for k, v in m.versions.items())),
        ("sha256", m.sha256)]


def nested_rows(key: str, values: Mapping[str, Any], depth: int = 0) -> Rows:
    """A manifest's nested metrics as rows a person reads: each level's plain values on one line, and each table
    inside it on lines of its own, indented under it (never a Python dict)."""
    plain = ", ".join(f"{k} {v}" for k, v in values.items() if not isinstance(v, Mapping))
    head = f"{'  ' * (depth - 1)}{key}: {plain}".rstrip() if depth else plain or "none"
    rows: Rows = [(key if depth == 0 else "", head)]
    for name, value in values.items():
        if isinstance(value, Mapping):
            rows += nested_rows(name, value, depth + 1)
    return rows


def _output_row(m: Manifest) -> tuple[str, str]:
    reading = ("sigmoid" if m.task == "binary" else "softmax") if m.task != "regression" else "a value"
    return ("output", f"{m.output.dtype} (scale {m.output.quantization.scale:.6g}, zero point "
                      f"{m.output.quantization.zero_point}) -> {reading}")


def _backbone_rows(classifier: Classifier) -> Rows:
    """What the backbone sees, and what the head holds (a model on the ImageNet backbone)."""
    m, arrays = classifier.manifest, classifier.head
    b, head = m.backbone, m.head
    assert b is not None, "a model on the backbone has a backbone section"
    backbone = ("backbone", f"{b.model_file}: {b.size}x{b.size} RGB ({b.resize}, scaling {b.scaling.mode}), "
                            f"{b.input.dtype}; features {b.features.shape[0]}, ImageNet logits {b.logits.shape[0]}")
    if head is None or arrays is None:  # imported without photos: the backbone alone
        return [backbone]
    bank = len(arrays.bank)
    names = ("softmax over the features -> labels; " if m.is_all_head else
             "names what a camera photo shows (a 28x28 image goes to the network); " if head.classifies else "")
    known = "" if arrays.imagenet_classes is None else f"; {len(arrays.imagenet_classes)} ImageNet classes"
    return [backbone, ("head", f"{head.file}: {names}the {head.neighbours} nearest of {bank} training photos{known}")]
