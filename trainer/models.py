"""Model builders. Every model ends in logits: softmax or sigmoid is applied by the shared contract.

``cnn`` is the compact network for 28x28 grayscale: one 5x5 stem, two stages of 3x3 conv + BN,
global average pooling. Sized so that int8 weights stay under 150 KB and an epoch of MNIST takes
about a minute on two cores. ``mlp`` is the workshop's Dense baseline, kept for comparison.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers


def _conv_bn_relu(x, filters: int, kernel: int = 3):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_cnn(input_shape: tuple[int, int, int], outputs: int) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = _conv_bn_relu(inputs, 32, kernel=5)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 64)
    x = _conv_bn_relu(x, 64)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 96)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="cnn")


def build_mlp(input_shape: tuple[int, int, int], outputs: int) -> keras.Model:
    """The workshop's model: Flatten, Dense(128, relu), Dense(10)."""
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="mlp")


ARCHITECTURES: dict[str, Callable[[tuple[int, int, int], int], keras.Model]] = {
    "cnn": build_cnn,
    "mlp": build_mlp,
}
