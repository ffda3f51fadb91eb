"""Score a tabular model on its held-out rows, as Keras and as the exported TFLite run by the device's code.

The TFLite side goes through ``Classifier`` and ``encode_features``, one row per invoke, exactly as
``piclassify predict --values`` runs it; the numbers land in the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.contract.tensors import encode_features, output_probabilities, output_values, predicted_indices
from piclassify.trainer.errors import ExportError

FLOAT_TOLERANCE = 1e-5  # relative to the output's size: a float32 export must compute what Keras does


def held_out_metrics(keras_model: Any, model_path: Path, x: np.ndarray, y: np.ndarray, test_set: str) -> dict:
    """Accuracy (classifiers) or mean absolute error (regression) of both models, and how far apart they are."""
    classifier = Classifier.load(model_path)
    manifest = classifier.manifest
    raw = np.concatenate([classifier.invoke(encode_features(row[np.newaxis], manifest)) for row in x])
    keras_raw = keras_model.predict(scale_pixels(x, manifest.scaling), verbose=0)
    metrics: dict[str, Any] = {"test_set": test_set, "test_rows": int(len(x))}
    if manifest.task == "regression":
        tflite_out, keras_out = output_values(raw, manifest), output_values(keras_raw, manifest)
        metrics["keras_mae"] = round(float(np.mean(np.abs(keras_out - y))), 6)
        metrics["tflite_mae"] = round(float(np.mean(np.abs(tflite_out - y))), 6)
        metrics["tflite_rmse"] = round(float(np.sqrt(np.mean((tflite_out - y) ** 2))), 6)
    else:
        tflite_out, keras_out = output_probabilities(raw, manifest), output_probabilities(keras_raw, manifest)
        tflite_pred, keras_pred = predicted_indices(tflite_out, manifest), predicted_indices(keras_out, manifest)
        metrics["keras_accuracy"] = round(float(np.mean(keras_pred == y)), 5)
        metrics["tflite_accuracy"] = round(float(np.mean(tflite_pred == y)), 5)
        metrics["keras_tflite_agreement"] = round(float(np.mean(tflite_pred == keras_pred)), 5)
    diff = float(np.max(np.abs(tflite_out - keras_out)))
    metrics["keras_tflite_max_abs_diff"] = float(f"{diff:.3g}")
    metrics["model_bytes"] = Path(model_path).stat().st_size
    size = max(1.0, float(np.max(np.abs(keras_out))))
    if manifest.input.dtype == "float32" and diff > FLOAT_TOLERANCE * size:
        raise ExportError(f"{model_path}: the float32 TFLite model differs from Keras by {diff:.3g} on the held-out "
                          f"rows (allowed {FLOAT_TOLERANCE * size:.3g})")
    return metrics
