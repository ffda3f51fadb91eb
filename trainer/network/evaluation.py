"""Measure the float Keras model and the exported TFLite model on the same test images, and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.confusion import confusion_matrix, per_class_lines, save_confusion_png
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.contract.tensors import predicted_indices
from piclassify.trainer.network.report import save_worst_mistakes_png
from piclassify.trainer.publish import accuracy, keras_probabilities, record_metrics


def evaluate_and_report(keras_model: Any, model_path: Path, x_test: np.ndarray, y_test: np.ndarray,
                        test_set: str, report_dir: Path, log: Callable[[str], None] = print) -> Manifest:
    """Score both models on every test image, store the scores in the manifest, save the report PNGs.

    ``x_test`` holds uint8 images exactly as the model's input expects them (H, W[, C]).
    """
    classifier = Classifier.load(model_path)
    manifest = classifier.manifest
    runtime = classifier.runtime
    log(f"evaluating {model_path.name} on {len(x_test)} {test_set} images with {runtime.name} {runtime.version}")
    tflite_probs = classifier.probabilities(x_test)
    x_scaled = scale_pixels(x_test if x_test.ndim == 4 else x_test[..., np.newaxis], manifest.scaling)
    keras_probs = keras_probabilities(keras_model, x_scaled, manifest)
    y_test = np.asarray(y_test, dtype=np.int64)
    keras_acc = accuracy(keras_probs, y_test, manifest)
    tflite_acc = accuracy(tflite_probs, y_test, manifest)
    agreement = float(np.mean(predicted_indices(tflite_probs, manifest) == predicted_indices(keras_probs, manifest)))
    metrics = {
        "test_set": test_set,
        "test_images": int(len(y_test)),
        "keras_accuracy": round(keras_acc, 5),
        "tflite_accuracy": round(tflite_acc, 5),
        "keras_tflite_agreement": round(agreement, 5),
        "model_bytes": model_path.stat().st_size,
    }
    manifest = record_metrics(model_path, manifest, metrics)

    y_pred = predicted_indices(tflite_probs, manifest)
    matrix = confusion_matrix(y_test, y_pred, len(manifest.labels))
    log("per-class accuracy (TFLite):")
    for line in per_class_lines(matrix, manifest.labels):
        log(line)
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    confusion_png = report_dir / f"{manifest.name}-confusion.png"
    mistakes_png = report_dir / f"{manifest.name}-mistakes.png"
    save_confusion_png(matrix, manifest.labels, f"{manifest.name} TFLite {100 * tflite_acc:.2f}%", confusion_png)
    save_worst_mistakes_png(x_test, y_test, y_pred, tflite_probs, manifest.labels, mistakes_png)
    log(f"keras accuracy {100 * keras_acc:.2f}%  tflite accuracy {100 * tflite_acc:.2f}%  "
        f"(agreement {100 * agreement:.2f}%)  model {metrics['model_bytes'] / 1024:.1f} KiB")
    log(f"report: {confusion_png}  {mistakes_png}")
    return manifest
