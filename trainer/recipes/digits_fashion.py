"""Train, export and verify the 28x28 grayscale models: ``digits`` (MNIST) and ``fashion`` (Fashion-MNIST)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from piclassify.shared.contract.manifest import Manifest, Scaling, load_manifest, manifest_path_for, write_manifest
from piclassify.shared.errors import DatasetError
from piclassify.trainer.backbone.build import find_backbone
from piclassify.trainer.data.clothing import add_camera_photos, measure_and_record_photos
from piclassify.trainer.data.datasets import DATASETS, load_dataset
from piclassify.trainer.data.paper_digits import DIGITS as DIGITS_ON_PAPER
from piclassify.trainer.data.paper_digits import framed_paper_digits
from piclassify.trainer.data.photos import render_photo
from piclassify.trainer.network.evaluation import evaluate_and_report
from piclassify.trainer.network.export import calibration_samples, to_tflite
from piclassify.trainer.network.models import ARCHITECTURES
from piclassify.trainer.network.training import TrainConfig, train_model
from piclassify.trainer.nothing_in_view.measure import measure_and_record
from piclassify.trainer.publish import data_name, say_written, write_model
from piclassify.trainer.recipes.camera_head import add_backbone_head, measure_camera_head

SCALING = Scaling("unit")
RENDERED_PHOTOS = 1000


def rendered_photos(images: np.ndarray, count: int = RENDERED_PHOTOS, seed: int = 7) -> Iterator[np.ndarray]:
    """The first ``count`` test items printed on unevenly lit paper, as a camera sees them."""
    rng = np.random.default_rng(seed)
    return (render_photo(image, rng) for image in images[:count])


def train_idx_model(name: str, arch: Optional[str] = None, epochs: Optional[int] = None, quantization: str = "int8",
                    out_dir: Path = Path("models"), data_dir: Optional[Path] = None, limit: Optional[int] = None,
                    seed: int = 1, log: Callable[[str], None] = print, photos: Optional[Path] = None,
                    backbone: Optional[Path] = None, with_backbone: bool = True) -> Manifest:
    """The whole recipe for one dataset; returns the final manifest with measured accuracies.

    ``fashion`` also trains on camera photos framed as garments: items rendered as photos, and real
    clothing photos (``photos``, else a ``clothing-photos`` folder where the datasets are), and records
    the accuracy on the real validation photos (``trainer.data.clothing``).
    """
    started = time.monotonic()
    backbone_path = find_backbone(Path(out_dir), backbone, log) if with_backbone else None  # refused before training
    arch = arch or DATASETS[name].default_arch
    epochs = epochs or DATASETS[name].default_epochs
    dataset = load_dataset(name, data_dir)
    log(f"{name}: {len(dataset.x_train)} training and {len(dataset.x_test)} test images from {dataset.source}")
    x_train, y_train = dataset.x_train[:limit], dataset.y_train[:limit]
    photos_root, photos_info = None, {}
    if name == "fashion":
        x_train, y_train, photos_root, photos_info = add_camera_photos(x_train, y_train, dataset.labels, photos,
                                                                       data_dir, seed, log)
    else:
        framing_started = time.monotonic()
        x_paper, y_paper = framed_paper_digits(x_train, y_train, min(DIGITS_ON_PAPER, len(x_train)), seed)
        log(f"{len(x_paper)} training digits written on paper and framed as the Pi frames them, in "
            f"{time.monotonic() - framing_started:.0f} s")
        x_train, y_train = np.concatenate([x_train, x_paper]), np.concatenate([y_train, y_paper])
        photos_info = {"digits_on_paper": int(len(x_paper))}
    height, width = x_train.shape[1:]
    model = ARCHITECTURES[arch]((height, width, 1), len(dataset.labels))
    log(f"training {arch} ({model.count_params():,} parameters) on {len(x_train)} images for up to {epochs} epochs")
    config = TrainConfig(epochs=epochs, seed=seed, augment=name)
    model, summary = train_model(model, x_train, y_train, SCALING, config, log=log)
    log(f"trained {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; converting to TFLite ({quantization})")
    tflite = to_tflite(model, quantization, calibration_samples(x_train, SCALING, seed=seed))
    training = {"arch": arch, "quantization": quantization, "dataset": data_name(dataset.source), **photos_info,
                **summary}
    model_path = write_model(tflite, out_dir, training, name=name, task="multiclass", labels=dataset.labels,
                             colour="gray", polarity=DATASETS[name].polarity, scaling=SCALING,
                             resize=DATASETS[name].resize, reject=DATASETS[name].reject)
    evaluate_and_report(model, model_path, dataset.x_test, dataset.y_test, f"{DATASETS[name].folder} test",
                        Path(out_dir) / "reports", log)
    manifest = measure_and_record(model_path, rendered_photos(dataset.x_test), f"{DATASETS[name].folder} test "
                                  f"items rendered as photos", log=log)
    if photos_root is not None and (photos_root / "validation").is_dir():
        manifest = measure_and_record_photos(model_path, photos_root, "validation", log)
    if backbone_path is not None:
        add_backbone_head(model_path, name, backbone_path, data_dir, photos, seed, log, limit)
        manifest = measure_camera_head(model_path, name, data_dir, photos, log, limit)
    say_written(model_path, manifest, time.monotonic() - started, log)
    return manifest


def add_reject_settings(model_path: Path, name: str, data_dir: Optional[Path] = None, photos: Optional[Path] = None,
                        backbone: Optional[Path] = None, log: Callable[[str], None] = print) -> Manifest:
    """Today's "nothing in view" for ``name`` given to an existing model, without retraining it: the framing's
    ``reject`` settings and the backbone's head (``trainer.recipes.camera_head``), then measured."""
    manifest = load_manifest(model_path)
    backbone_path = find_backbone(Path(model_path).parent, backbone, log)
    dataset = load_dataset(name, data_dir)
    if (manifest.resize, manifest.labels) != (DATASETS[name].resize, dataset.labels):
        raise DatasetError(f"{model_path}: not a {name} model (labels or framing differ)")
    write_manifest(replace(manifest, reject=DATASETS[name].reject), manifest_path_for(model_path))
    log(f"{model_path}: reject settings {DATASETS[name].reject}")
    add_backbone_head(model_path, name, backbone_path, data_dir, photos, log=log)
    return measure_camera_head(model_path, name, data_dir, photos, log)
