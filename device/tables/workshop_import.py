"""Import a model as the workshop's notebook exports it: ``model.tflite`` plus ``min-max.json``.

The notebook converts a Keras Dense model with ``TFLiteConverter`` (float32, ending in its own
sigmoid or softmax) and saves the MinMaxScaler's bounds as ``{"x_min": [...], "x_max": [...]}``.
Everything is checked with the LiteRT runtime, never TensorFlow: the input width against the
bounds, the output against the labels. The result is ``NAME.tflite`` with its manifest beside it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from piclassify.device.core.model_files import checked_model_name
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest, Scaling, Table
from piclassify.shared.errors import ModelImportError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.regular_file import read_limited
from piclassify.shared.inference.ops import ACTIVATIONS, final_activation
from piclassify.shared.inference.runtime import distribution_version, load_runtime
from piclassify.shared.tables.manifest import table_manifest

MAX_MIN_MAX_BYTES = 1 << 20  # a min-max.json of thousands of features is a few hundred KB
MAX_MODEL_BYTES = 64 << 20  # a workshop Dense model is a few KB
FLOAT32_MAX = float(np.finfo(np.float32).max)


class WorkshopImportError(ModelImportError):
    """A workshop model and its min-max.json or labels do not fit together."""


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def read_min_max(path: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``{"x_min": [...], "x_max": [...]}``: equal lengths of numbers float32 can hold, each minimum <= its maximum."""
    path = Path(path)
    try:
        data = json.loads(read_limited(path, MAX_MIN_MAX_BYTES, "a min-max.json").decode("utf-8"),
                          parse_int=float, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WorkshopImportError(f"{path}: not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(data, dict) or not {"x_min", "x_max"} <= set(data):
        raise WorkshopImportError(f'{path}: expected {{"x_min": [...], "x_max": [...]}} as the workshop saves it')
    bounds = []
    for key in ("x_min", "x_max"):
        values = data[key]
        if not isinstance(values, list) or not values or not all(
                isinstance(v, float) and abs(v) <= FLOAT32_MAX for v in values):
            raise WorkshopImportError(f"{path}: {key} must be a non-empty list of numbers within float32's range "
                                      f"(+-{FLOAT32_MAX:.3g})")
        bounds.append(tuple(values))
    low, high = bounds
    if len(low) != len(high):
        raise WorkshopImportError(f"{path}: x_min has {len(low)} values but x_max has {len(high)}")
    for i, (a, b) in enumerate(zip(low, high)):
        if a > b:
            raise WorkshopImportError(f"{path}: feature {i + 1} has x_min {a:g} above x_max {b:g}")
        if b - a > FLOAT32_MAX:  # the scaling divides by it in float32
            raise WorkshopImportError(f"{path}: feature {i + 1} spans {a:g} to {b:g}, wider than float32 can scale")
    return low, high


def import_workshop_model(tflite: Path, min_max: Path, name: str, out_dir: Path,
                          labels: Optional[Sequence[str]] = None, features: Optional[Sequence[str]] = None,
                          target: Optional[str] = None, unit: str = "",
                          runtime: Optional[str] = None) -> tuple[Manifest, Path]:
    """Check the pair, write ``out_dir/NAME.tflite`` and ``NAME.json``, and load them back as the device will.

    Everything is written and checked in a temporary folder inside ``out_dir`` first, then renamed into place
    (the manifest last): a failed import leaves ``out_dir`` as it was.
    """
    checked_model_name(name)
    tflite = Path(tflite)
    low, high = read_min_max(min_max)
    model_bytes = read_limited(tflite, MAX_MODEL_BYTES, "a workshop model")
    chosen = load_runtime(runtime)
    try:
        interpreter = chosen.interpreter_class(model_content=model_bytes)
    except (ValueError, RuntimeError) as exc:
        raise WorkshopImportError(f"{tflite}: not a model {chosen.name} can open ({str(exc).strip()[:120]})") from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    width = _width(tflite, "input", inputs)
    n_outputs = _width(tflite, "output", outputs)
    if width != len(low):
        raise WorkshopImportError(f"{tflite} takes {width} feature(s) per row but {min_max} has {len(low)} "
                                  "x_min/x_max values")
    features = tuple(features) if features else tuple(f"x{i + 1}" for i in range(width))
    if len(features) != width:
        raise WorkshopImportError(f"--features names {len(features)} feature(s) but {tflite} takes {width}")
    activation = final_activation(interpreter, outputs[0]["index"])
    task = _task(tflite, labels, n_outputs, activation)
    if unit and task != "regression":
        raise WorkshopImportError(f"--unit is for a regression model; {tflite} is {task}")
    if task == "binary" and target is None and labels and labels[0] == f"not {labels[1]}":
        target = labels[1]
    table = Table(features, target or "target", unit, activation_in_model=activation in ACTIVATIONS)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    except OSError as exc:
        raise WorkshopImportError(f"{out_dir}: cannot write there: {exc.strerror or exc}") from None
    try:
        staged = staging / f"{name}.tflite"
        staged.write_bytes(model_bytes)  # byte for byte: the manifest's sha256 is the notebook's file
        manifest = table_manifest(
            staged, inputs, outputs, name=name, task=task, labels=tuple(labels or ()), table=table,
            scaling=Scaling("minmax", low, high), versions={"piclassify": distribution_version("piclassify")},
            training={"imported_from": str(tflite), "min_max": str(min_max),
                      "final_activation": ACTIVATIONS.get(activation, "none")})
        staged.with_suffix(".json").write_text(manifest.to_json(), encoding="utf-8")
        Classifier.load(staged, runtime=runtime)  # the device's own check: sha256, shapes, dtypes
        model_path = out_dir / staged.name
        write_atomically(model_path, model_bytes)
        write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    except OSError as exc:
        raise WorkshopImportError(f"{out_dir}: cannot write {name} there: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest, model_path


def _width(tflite: Path, role: str, details: Sequence[dict[str, Any]]) -> int:
    if len(details) != 1 or len(details[0]["shape"]) != 2:
        shapes = ", ".join(str(list(d["shape"])) for d in details)
        raise WorkshopImportError(f"{tflite}: expected one {role} of shape [1, n] (a Dense model), got {shapes}")
    return int(details[0]["shape"][1])


def _task(tflite: Path, labels: Optional[Sequence[str]], n_outputs: int, activation: str) -> str:
    """binary: one output, two labels; multiclass: one output per label; regression: one output, no labels."""
    if not labels:
        if activation in ACTIVATIONS or n_outputs != 1:
            raise WorkshopImportError(f"{tflite} ends in {ACTIVATIONS.get(activation, 'a layer')} with {n_outputs} "
                               "output(s): a classifier; give its --labels")
        return "regression"
    if len(labels) == 2 and n_outputs == 1:
        if activation == "SOFTMAX":
            raise WorkshopImportError(f"{tflite} has one softmax output, which is always 1; it cannot tell 2 labels "
                                      "apart")
        return "binary"
    if len(labels) == n_outputs and n_outputs >= 2:
        if activation == "LOGISTIC":
            raise WorkshopImportError(f"{tflite} ends in one sigmoid per output (multi-label); piclassify reads "
                                      "one class per row: end the model in softmax")
        return "multiclass"
    raise WorkshopImportError(f"{tflite} has {n_outputs} output(s) but --labels gives {len(labels)} name(s) "
                       "(binary: 1 output and 2 labels; multiclass: one output per label)")
