"""Model builders. Every model ends in logits: softmax or sigmoid is applied by the shared contract.

``cnn`` is the compact network for 28x28 digits: one 5x5 stem, two stages of 3x3 conv + BN,
global average pooling; ``cnn-flat`` (the fashion default) keeps the 7x7 layout for a linear
read-out. Both stay under 150 KB as int8 and train an MNIST epoch in under a minute on two cores.
``mlp`` is the workshop's Dense baseline, kept for comparison.
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


def build_cnn_flat(input_shape: tuple[int, int, int], outputs: int) -> keras.Model:
    """For clothes, where where-on-the-item matters (collar, sleeve, sole): conv stages down to 7x7,
    then a linear read-out of the whole 7x7 map instead of global pooling."""
    inputs = keras.Input(input_shape)
    x = _conv_bn_relu(inputs, 32)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 64)
    x = _conv_bn_relu(x, 64)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 64)
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="cnn_flat")


def build_mlp(input_shape: tuple[int, int, int], outputs: int) -> keras.Model:
    """The workshop's model: Flatten, Dense(128, relu), Dense(10)."""
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="mlp")


def _residual_separable_stage(x, filters: int):
    """Two depthwise-separable convolutions and a pooling step, with a 1x1 strided shortcut around them."""
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    return layers.ReLU()(layers.Add()([x, shortcut]))


def build_photo_cnn(input_shape: tuple[int, int, int], outputs: int) -> keras.Model:
    """RGB photos on a Pi: a strided stem, then residual depthwise-separable stages (Xception-style,
    cheap on ARM CPUs), global pooling and dropout; about 0.3 MB as int8."""
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for filters in (64, 128, 256):
        x = _residual_separable_stage(x, filters)
    x = layers.SeparableConv2D(384, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name="photo_cnn")


ARCHITECTURES: dict[str, Callable[[tuple[int, int, int], int], keras.Model]] = {
    "cnn": build_cnn,
    "cnn-flat": build_cnn_flat,
    "mlp": build_mlp,
}
