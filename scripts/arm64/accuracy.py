"""A bundled model's accuracy on a fixed sample of its real IDX test set, through the device's classifier.

Used by scripts/test-arm64, on the x86 host and in the emulated arm64 root, to compare the two.
The sample is every STRIDE-th test image (0, STRIDE, 2*STRIDE, ...), spread over the whole set;
tests/models/test_bundled_models.py measures the same way on all 10,000.

usage: python accuracy.py MODEL DATA_DIR STRIDE OUT_JSON
writes {"model", "test_set", "stride", "n", "correct", "accuracy", "manifest_accuracy", "se", "predictions"}.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np

from piclassify.device.core.model_files import resolve_model
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.tensors import predicted_indices
from piclassify.trainer.data.idx import read_idx  # NumPy only; no TensorFlow


def main(model: str, data_dir: str, stride: str, out: str) -> int:
    classifier = Classifier.load(resolve_model(model))
    metrics = classifier.manifest.metrics
    folder = Path(data_dir) / metrics["test_set"].removesuffix(" test")  # "mnist test" -> mnist/
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")[:: int(stride)]
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")[:: int(stride)]
    predictions = predicted_indices(classifier.probabilities(images), classifier.manifest)
    correct = int(np.sum(predictions == labels))
    expected = float(metrics["tflite_accuracy"])
    result = {
        "model": model, "test_set": metrics["test_set"], "stride": int(stride), "n": len(labels), "correct": correct,
        "accuracy": correct / len(labels), "manifest_accuracy": expected,
        "se": math.sqrt(expected * (1 - expected) / len(labels)),  # binomial standard error of the sample's mean
        "predictions": [int(p) for p in predictions],
    }
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
