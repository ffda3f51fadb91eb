"""Convert a Keras model to TFLite: full-integer int8 (default), float16, dynamic-range or float32.

TensorFlow is imported only when a conversion runs, so ``piclassify-train --help`` starts at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

from piclassify.shared.contract.manifest import Scaling
from piclassify.shared.contract.scaling import scale_pixels

if TYPE_CHECKING:
    import keras

QUANTIZATIONS = ("int8", "float16", "dynamic", "float32")
CALIBRATION_IMAGES = 500


def calibration_samples(images: np.ndarray, scaling: Scaling, count: int = CALIBRATION_IMAGES,
                        seed: int = 1) -> np.ndarray:
    """``count`` training images drawn at random, then scaled: only those, never the whole set, become float."""
    order = np.random.default_rng(seed).permutation(len(images))[:count]
    samples = images[order]
    if samples.ndim == 3:
        samples = samples[..., np.newaxis]
    return scale_pixels(samples, scaling).astype(np.float32)


def to_tflite(model: keras.Model, quantization: str, calibration: Optional[np.ndarray] = None) -> bytes:
    """Return the ``.tflite`` bytes; int8 needs ``calibration`` (scaled images from ``calibration_samples``)."""
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "int8":
        if calibration is None:
            raise ValueError("int8 quantization needs representative images")

        def representative() -> Iterator[list[np.ndarray]]:
            for sample in calibration:
                yield [sample[np.newaxis]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()
