"""Train, export and verify a tabular model from a CSV: the workshop's admission classifier and its kin.

The feature columns are min-max scaled with the training rows' bounds, which the manifest keeps
(the workshop's min-max.json); the held-out rows, drawn with ``seed``, are never trained on and
give the manifest its numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from piclassify.shared.contract.manifest import Manifest, Scaling, Table, write_manifest
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.errors import DatasetError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.inference.runtime import load_runtime
from piclassify.shared.tables.manifest import table_manifest
from piclassify.trainer.network.export import calibration_samples, to_tflite
from piclassify.trainer.publish import data_name, producer_versions, record_metrics, say_written
from piclassify.trainer.tables.data import held_out_split, infer_kind, make_target, read_table
from piclassify.trainer.tables.evaluation import held_out_metrics
from piclassify.trainer.tables.training import FitConfig, build_table_model, fit_table_model

HELD_OUT = 0.2
DEFAULT_EPOCHS = {"dense": 1000, "mlp": 500}
LEARNING_RATES = {"dense": 0.05, "mlp": 0.01}


def train_table_model(csv_path: Path, target: str, name: str, kind: Optional[str] = None,
                      labels: Optional[Sequence[str]] = None, unit: str = "", arch: str = "dense",
                      epochs: Optional[int] = None, quantization: str = "float32", out_dir: Path = Path("models"),
                      seed: int = 1, log: Callable[[str], None] = print) -> Manifest:
    """The whole recipe; returns the final manifest with the held-out scores."""
    started = time.monotonic()
    data = read_table(csv_path, target)
    kind = kind or infer_kind(data.target_cells)
    if kind == "regression" and labels:
        raise DatasetError(f"--labels names classes, but {target!r} is a regression target (see --kind)")
    if kind != "regression" and unit:
        raise DatasetError(f"--unit is for a regression target; {target!r} is {kind}")
    goal = make_target(data, kind, labels)
    train, test = held_out_split(goal, HELD_OUT, seed)
    x_train = data.x[train]
    scaling = Scaling("minmax", tuple(float(v) for v in x_train.min(axis=0)),
                      tuple(float(v) for v in x_train.max(axis=0)))
    classes = f" ({', '.join(goal.labels)})" if goal.labels else (f" in {unit}" if unit else "")
    log(f"{data.path}: {len(data.x)} rows, features {', '.join(data.features)}; target {target!r} is {kind}{classes}")
    log(f"training {arch} on {len(train)} rows, holding out {len(test)} (seed {seed})")

    model = build_table_model(arch, len(data.features), kind, len(goal.labels), seed)
    config = FitConfig(epochs=epochs or DEFAULT_EPOCHS[arch], learning_rate=LEARNING_RATES[arch], seed=seed)
    summary = fit_table_model(model, scale_pixels(x_train, scaling), goal.y[train], kind, config)
    log(f"trained {config.epochs} epochs in {summary['seconds']:.1f} s; converting to TFLite ({quantization})")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{name}.tflite"
    write_atomically(model_path, to_tflite(model, quantization, calibration_samples(x_train, scaling, seed=seed)))
    interpreter = load_runtime().interpreter_class(model_path=str(model_path))
    training = {"arch": arch, "quantization": quantization, "dataset": data_name(data.path),
                "held_out_fraction": HELD_OUT, **summary}
    manifest = table_manifest(model_path, interpreter.get_input_details(), interpreter.get_output_details(),
                              name=name, task=kind, labels=goal.labels, table=Table(data.features, target, unit),
                              scaling=scaling, versions=producer_versions(), training=training)
    write_manifest(manifest, model_path.with_suffix(".json"))

    metrics = held_out_metrics(model, model_path, data.x[test], goal.y[test],
                               f"{len(test)} held-out rows of {data.path.name} (seed {seed})")
    manifest = record_metrics(model_path, manifest, metrics)
    log(_score_line(metrics))
    say_written(model_path, manifest, time.monotonic() - started, log)
    return manifest


def _score_line(metrics: dict) -> str:
    if "tflite_accuracy" in metrics:
        score = (f"held-out accuracy: keras {100 * metrics['keras_accuracy']:.2f}%  "
                 f"tflite {100 * metrics['tflite_accuracy']:.2f}%")
    else:
        score = f"held-out mean absolute error: keras {metrics['keras_mae']:.4g}  tflite {metrics['tflite_mae']:.4g}"
    return (f"{score}  (max |tflite - keras| {metrics['keras_tflite_max_abs_diff']:.3g} "
            f"over {metrics['test_rows']} rows)  model {metrics['model_bytes']} bytes")
