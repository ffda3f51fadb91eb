"""Convert a Keras model to TFLite: full-integer int8 (default), float16, dynamic-range or float32."""

from __future__ import annotations

from typing import Iterator

import keras
import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("int8", "float16", "dynamic", "float32")


def representative_samples(x_scaled: np.ndarray, count: int = 500, seed: int = 1):
    """A calibration generator over ``count`` scaled training images, as the int8 converter wants."""
    order = np.random.default_rng(seed).permutation(len(x_scaled))[:count]
    samples = x_scaled[order].astype(np.float32)

    def generate() -> Iterator[list[np.ndarray]]:
        for sample in samples:
            yield [sample[np.newaxis]]

    return generate


def to_tflite(model: keras.Model, quantization: str, x_scaled: np.ndarray | None = None) -> bytes:
    """Return the ``.tflite`` bytes; int8 needs ``x_scaled`` (training images, already scaled)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "int8":
        if x_scaled is None:
            raise ValueError("int8 quantization needs representative images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_samples(x_scaled)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()
