"""The workshop's tabular models and how they are fitted on min-max scaled rows.

``dense`` is the workshop's single layer: one neuron for binary (logistic regression) and
regression (linear regression), one softmax neuron per class for multiclass. ``mlp`` adds two
hidden ReLU layers. Classifiers output logits (the shared contract applies sigmoid/softmax, as for
the image models). A regression model learns a min-max scaled target, and the scaling is then
folded into its last layer, so the exported model answers in the target's own unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 1000
    batch_size: int = 32
    learning_rate: float = 0.05
    seed: int = 1


def build_table_model(arch: str, n_features: int, kind: str, n_classes: int, seed: int) -> keras.Model:
    """``arch`` ending in one linear Dense layer: 1 output (binary, regression) or ``n_classes``; seeded weights."""
    keras.utils.set_random_seed(seed)
    outputs = n_classes if kind == "multiclass" else 1
    hidden = [keras.layers.Dense(16, activation="relu") for _ in range(2)] if arch == "mlp" else []
    return keras.Sequential([keras.Input((n_features,)), *hidden, keras.layers.Dense(outputs, name="out")],
                            name=f"table_{arch}")


def fit_table_model(model: keras.Model, x: np.ndarray, y: np.ndarray, kind: str, config: FitConfig) -> dict:
    """Fit on scaled rows ``x`` with a fixed schedule (no rows are spent on early stopping); return a summary.

    The epochs run as one pass over a repeated, seeded shuffle: the same steps as ``epochs`` Keras
    epochs, without Keras's per-epoch overhead, so hundreds of epochs take about a second.
    """
    keras.utils.set_random_seed(config.seed)
    x = np.asarray(x, dtype=np.float32)
    if kind == "regression":
        low, high = float(y.min()), float(y.max())
        y = ((y - low) / (high - low)).astype(np.float32).reshape(-1, 1)
        loss = keras.losses.MeanSquaredError()
    elif kind == "binary":
        y = y.astype(np.float32).reshape(-1, 1)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    steps = int(np.ceil(len(x) / config.batch_size)) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps, alpha=0.1)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, steps_per_execution=100)
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
               .repeat(config.epochs).batch(config.batch_size))
    started = time.monotonic()
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    if kind == "regression":
        _fold_target_scaling(model, low, high)
    return {"epochs": config.epochs, "steps": steps, "seconds": round(time.monotonic() - started, 2),
            "train_rows": int(len(x)), "seed": config.seed}


def _fold_target_scaling(model: keras.Model, low: float, high: float) -> None:
    """y = low + (high - low) * y_scaled, written into the last Dense layer's weights."""
    layer = model.layers[-1]
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * (high - low), bias * (high - low) + low])
