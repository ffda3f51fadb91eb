"""Train a Keras model on uint8 images, scaled by the shared contract, with augmentation.

Validation split, early stopping on validation loss (best weights restored), cosine learning
rate, seeded shuffles and initialisation so that the same command gives the same model. Photo
models also draw from a pool of negatives each epoch and paste background edges into object photos.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from piclassify.shared.contract.manifest import Scaling
from piclassify.shared.contract.scaling import scale_pixels


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 3e-3
    validation_fraction: float = 0.1
    patience: int = 3
    seed: int = 1
    augment: str = "digits"
    label_smoothing: float = 0.0  # small photo sets: less certainty on the few images there are
    weight_decay: float = 0.0  # AdamW's decoupled weight decay; 0 is plain Adam
    mixup: float = 0.0  # Beta(mixup, mixup) blends of two images and their labels; 0 is off
    validate_every: int = 1  # epochs between looks at the validation images (a look at 1,000 photos costs 10%)
    context_from: Optional[int] = None  # a background class whose photos lend an edge strip to the others' photos


@dataclass(frozen=True)
class Draw:
    """More images of one class than an epoch should hold: each epoch samples about ``per_epoch`` of them
    afresh, so a large pool (the user's negatives) widens what the model sees without longer epochs."""
    images: np.ndarray  # uint8, as the training images
    label: int
    per_epoch: int


def augmentation(kind: str) -> keras.Sequential:
    """Jitter suited to the data: no flips for digits, mirror images for clothes, more for photos."""
    if kind == "photos":
        return keras.Sequential([
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.05, fill_mode="reflect"),
            keras.layers.RandomZoom((-0.2, 0.1), fill_mode="reflect"),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect"),
            keras.layers.RandomContrast(0.2),
        ], name="augment_photos")
    if kind == "fashion":  # items are photographed upright and centred: mirror images only
        return keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augment_fashion")
    return keras.Sequential([
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant"),
        keras.layers.RandomRotation(0.03, fill_mode="constant"),
        keras.layers.RandomZoom(0.08, fill_mode="constant"),
    ], name=f"augment_{kind}")


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Shuffle once with ``seed`` and hold out ``fraction`` for validation."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def as_model_input(images: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, H, W, 1); colour images pass through."""
    return images[..., np.newaxis] if images.ndim == 3 else images


def mix_up(images: tf.Tensor, labels: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Each image blended with another of the batch, labels in the same proportion (Zhang et al., mixup)."""
    first = tf.random.gamma(tf.shape(labels)[:1], alpha)
    weight = first / (first + tf.random.gamma(tf.shape(labels)[:1], alpha))
    weight = tf.maximum(weight, 1.0 - weight)  # the image stays mostly itself
    order = tf.random.shuffle(tf.range(tf.shape(labels)[0]))
    mixed = weight[:, None, None, None] * images + (1.0 - weight[:, None, None, None]) * tf.gather(images, order)
    return mixed, weight[:, None] * labels + (1.0 - weight[:, None]) * tf.gather(labels, order)


def paste_context(images: tf.Tensor, labels: tf.Tensor, background: int) -> tf.Tensor:
    """Object photos get an edge strip (15-40% of one side) of a background photo of the batch, labels unchanged.

    Real photos of an object often hold things of the background class around it (a cat on a red
    jumper, a dog beside jeans): this teaches that such surroundings do not make the photo "nothing".
    """
    shape = tf.shape(images)
    count, height, width = shape[0], shape[1], shape[2]
    donors = tf.random.shuffle(tf.range(count))
    is_background = labels[:, background] > 0.5
    pasted = tf.logical_and(tf.logical_not(is_background), tf.gather(is_background, donors))
    ys, xs = tf.meshgrid(tf.linspace(0.0, 1.0, height), tf.linspace(0.0, 1.0, width), indexing="ij")
    edges = tf.stack([xs, 1 - xs, ys, 1 - ys])  # how far each pixel is from the left, right, top, bottom edge
    side = tf.random.uniform([count], 0, 4, dtype=tf.int32)
    depth = tf.random.uniform([count], 0.15, 0.4)
    strip = tf.gather(edges, side) < depth[:, None, None]
    mask = tf.logical_and(strip, pasted[:, None, None])[..., None]
    return tf.where(mask, tf.gather(images, donors), images)


def validation_epochs(config: TrainConfig) -> list[int]:
    """Every ``validate_every``-th epoch and the last (Keras counts from 1)."""
    return sorted(set(range(config.validate_every, config.epochs + 1, config.validate_every)) | {config.epochs})


def _augmented_batches(x_train: np.ndarray, y_train: np.ndarray, draws: Sequence[Draw], classes: int,
                       scaling: Scaling, config: TrainConfig) -> tuple[tf.data.Dataset, int]:
    """The training batches, scaled by the shared code, augmented, with context and mix-up as configured; and the
    steps an epoch takes."""
    augment = augmentation(config.augment)

    def scaled(batch: tf.Tensor) -> tf.Tensor:
        """The shared ``scale_pixels`` on one uint8 batch: the training set itself is never copied as float."""
        values = tf.numpy_function(lambda pixels: scale_pixels(pixels, scaling), [batch], tf.float32)
        values.set_shape(batch.shape)
        return values

    train_ds, steps_per_epoch = training_batches(x_train, y_train, draws, classes, config)
    train_ds = train_ds.map(lambda a, b: (augment(scaled(a), training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    if config.context_from is not None:
        train_ds = train_ds.map(lambda a, b: (paste_context(a, b, config.context_from), b),
                                num_parallel_calls=tf.data.AUTOTUNE)
    if config.mixup:
        train_ds = train_ds.map(lambda a, b: mix_up(a, b, config.mixup), num_parallel_calls=tf.data.AUTOTUNE)
    return train_ds.prefetch(tf.data.AUTOTUNE), steps_per_epoch


def train_model(model: keras.Model, x: np.ndarray, y: np.ndarray, scaling: Scaling, config: TrainConfig,
                monitor: Optional[tuple[np.ndarray, np.ndarray]] = None,
                draws: Sequence[Draw] = (), log: Optional[Callable[[str], None]] = None) -> tuple[keras.Model, dict]:
    """Fit ``model`` on uint8 images ``x``; return it and a summary (epochs run, seconds, val accuracy).

    Without ``monitor``, a validation split is held out and early stopping keeps the best weights.
    With ``monitor`` (small photo sets, where every training image counts), nothing is held out:
    the fixed schedule runs to its end and the monitor images are only shown, never used to choose.
    Each of ``draws`` adds its ``per_epoch`` images to every epoch, sampled afresh from its pool.
    With ``log``, each epoch is one line of ours (``EpochLines``) instead of Keras's own progress bar.
    """
    keras.utils.set_random_seed(config.seed)
    callbacks: list[keras.callbacks.Callback] = []
    if monitor is None:
        (x_train, y_train), (x_val, y_val) = split_validation(as_model_input(x), y, config.validation_fraction,
                                                              config.seed)
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                       restore_best_weights=True))
    else:
        (x_train, y_train), (x_val, y_val) = (as_model_input(x), y), (as_model_input(monitor[0]), monitor[1])
    classes = model.output_shape[-1]
    y_train, y_val = (keras.utils.to_categorical(v, classes).astype(np.float32) for v in (y_train, y_val))
    x_val = scale_pixels(x_val, scaling)
    train_ds, steps_per_epoch = _augmented_batches(x_train, y_train, draws, classes, scaling, config)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                      decay_steps=steps_per_epoch * config.epochs)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
    optimizer = (keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay) if config.weight_decay
                 else keras.optimizers.Adam(schedule))
    model.compile(optimizer=optimizer, loss=loss, metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    started = time.monotonic()
    if log is not None:
        callbacks.append(EpochLines(log, config.epochs))
    history = model.fit(train_ds, validation_data=(x_val, y_val), epochs=config.epochs, callbacks=callbacks,
                        steps_per_epoch=steps_per_epoch if draws else None, validation_freq=validation_epochs(config),
                        verbose=0 if log is not None else 1 if sys.stdout.isatty() else 2, shuffle=False)
    seconds = time.monotonic() - started
    return model, {
        "epochs_run": len(history.history["loss"]),
        "seconds": round(seconds, 1),
        "best_val_accuracy": round(float(max(history.history["val_accuracy"])), 5),
        "train_images": int(len(x_train)) + sum(len(draw.images) for draw in draws),
        "images_per_epoch": int(len(x_train)) + sum(draw.per_epoch for draw in draws),
        "validation_images": int(len(x_val)),
        "seed": config.seed,
    }


class EpochLines(keras.callbacks.Callback):
    """One line per epoch on the trainer's console: loss, accuracy, validation accuracy when measured, time left
    (at most ``epochs``: early stopping may end sooner)."""

    def __init__(self, log: Callable[[str], None], epochs: int) -> None:
        super().__init__()
        self.log, self.epochs = log, epochs
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        elapsed = time.monotonic() - self.started
        left = elapsed / (epoch + 1) * (self.epochs - epoch - 1)
        validation = f", validation accuracy {100 * logs['val_accuracy']:.2f}%" if "val_accuracy" in logs else ""
        self.log(f"  epoch {epoch + 1}/{self.epochs}: loss {logs.get('loss', float('nan')):.4f}, accuracy "
                 f"{100 * logs.get('accuracy', float('nan')):.2f}%{validation} ({elapsed / (epoch + 1):.0f} s an "
                 f"epoch" + (f", at most {left / 60:.0f} min left)" if left else ")"))


def training_batches(x: np.ndarray, y: np.ndarray, draws: Sequence[Draw], classes: int,
                     config: TrainConfig) -> tuple[tf.data.Dataset, int]:
    """Shuffled batches of (uint8 images, one-hot labels), and the steps in an epoch.

    Without draws an epoch is one pass over ``x``; with draws, ``tf.data`` samples the images and each pool in
    proportion to their share of an epoch, from endlessly reshuffled copies.
    """
    if not draws:
        whole = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=config.seed,
                                                                    reshuffle_each_iteration=True)
        return whole.batch(config.batch_size), int(np.ceil(len(x) / config.batch_size))
    pools = [(x, y, len(x))]
    for draw in draws:
        one_hot = keras.utils.to_categorical(draw.label, classes).astype(np.float32)
        pools.append((as_model_input(draw.images), np.tile(one_hot, (len(draw.images), 1)), draw.per_epoch))
    per_epoch = sum(share for _, _, share in pools)
    sources = [tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(len(images), seed=config.seed + n, reshuffle_each_iteration=True).repeat()
               for n, (images, labels, _) in enumerate(pools)]
    mixed = tf.data.Dataset.sample_from_datasets(sources, weights=[share / per_epoch for _, _, share in pools],
                                                 seed=config.seed)
    return mixed.batch(config.batch_size), int(np.ceil(per_epoch / config.batch_size))
