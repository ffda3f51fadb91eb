"""Train, export and verify a small CNN from scratch on photo folders (``piclassify-train folder --arch photo-cnn``).

The default for photo folders is a head on the ImageNet backbone (``trainer.recipes.folder_head``); this is the
network that learns everything from the user's photos alone, kept to compare with and for machines
without the backbone's weights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.contract.manifest import Manifest, Scaling
from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import DatasetError
from piclassify.shared.files.photo_folders import load_folder_dataset
from piclassify.trainer.network.evaluation import evaluate_and_report
from piclassify.trainer.network.export import calibration_samples, to_tflite
from piclassify.trainer.network.models import build_photo_cnn
from piclassify.trainer.network.training import Draw, TrainConfig, train_model
from piclassify.trainer.nothing_in_view.background import BACKGROUND_LABEL, calibrate_background, load_background
from piclassify.trainer.nothing_in_view.measure import measure_and_record
from piclassify.trainer.publish import data_name, say_written, write_model

RESIZE = "centre-crop"


def train_folder_model(root: Path, name: str, size: int = 96, epochs: int = 50, quantization: str = "int8",
                       out_dir: Path = Path("models"), negatives: Optional[Path] = None, seed: int = 1,
                       log: Callable[[str], None] = print) -> Manifest:
    """The whole recipe; the validation photos are only evaluated, never used to choose weights.

    Besides the user's classes the model learns a background class (``trainer.nothing_in_view.background``), and
    the device answers "nothing in view" when it is above the threshold calibrated on held-out negatives.
    """
    started = time.monotonic()
    scaling = Scaling("unit")
    data = load_folder_dataset(root, size, size, RESIZE, seed=seed, log=log)
    if BACKGROUND_LABEL in data.classes:
        raise DatasetError(f"{root}: a class may not be called {BACKGROUND_LABEL!r}; piclassify learns that one itself "
                           "(put such photos in a folder given with --negatives)")
    background = load_background(len(data.train.labels) // 4, size, size, RESIZE, negatives, seed, log)
    classes = data.classes + (BACKGROUND_LABEL,)
    images = np.concatenate([data.train.images, background.scenes])
    labels = np.concatenate([data.train.labels, np.full(len(background.scenes), len(data.classes), np.int64)])
    draws = [Draw(background.negatives, len(data.classes), background.negatives_per_epoch)] if len(
        background.negatives) else []
    shape = (size, size, 3)
    model = build_photo_cnn(shape, len(classes))
    log(f"training {model.name} ({model.count_params():,} parameters) on {len(labels) + len(background.negatives)} "
        f"photos, classes {', '.join(classes)}, {epochs} epochs")
    config = TrainConfig(epochs=epochs, batch_size=32, learning_rate=2e-3, seed=seed, augment="photos",
                         label_smoothing=0.1, weight_decay=0.004, mixup=0.2, validate_every=5,
                         context_from=len(data.classes))
    model, summary = train_model(model, images, labels, scaling, config, log=log,
                                 monitor=(data.validation.images, data.validation.labels), draws=draws)
    log(f"trained {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; converting to TFLite ({quantization})")
    tflite = to_tflite(model, quantization,
                       calibration_samples(np.concatenate([images, background.negatives]), scaling, seed=seed))
    training = {"arch": "photo-cnn", "quantization": quantization, "dataset": data_name(root),
                "negatives": str(negatives) if negatives else None,
                "skipped_files": data.train.skipped + data.validation.skipped, **summary}
    model_path = write_model(tflite, out_dir, training, name=name, task="multiclass", labels=classes, colour="rgb",
                             polarity="any", scaling=scaling, resize=RESIZE,
                             reject=Reject(background_label=BACKGROUND_LABEL),
                             mirror_average=True)  # trained with mirror images ("photos" augmentation)
    calibrate_background(model_path, background, log)
    evaluate_and_report(model, model_path, data.validation.images, data.validation.labels,
                        data_name(data.validation_name, 2), Path(out_dir) / "reports", log)
    manifest = measure_and_record(model_path, data.validation.images, f"{data_name(data.validation_name, 2)} photos",
                                  np.concatenate([background.held_out_scenes, background.held_out_negatives]), log)
    say_written(model_path, manifest, time.monotonic() - started, log)
    return manifest
