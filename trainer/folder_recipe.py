"""Train, export and verify an RGB classifier on the user's own photo folders (cats vs dogs and alike)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

from piclassify.shared.manifest import Manifest, Scaling
from piclassify.trainer.errors import DatasetError
from piclassify.trainer.evaluation import evaluate_and_report
from piclassify.trainer.export import calibration_samples, to_tflite
from piclassify.trainer.folder_data import load_folder_dataset
from piclassify.trainer.models import build_mobilenetv2, build_photo_cnn
from piclassify.trainer.publish import ModelContract, write_model
from piclassify.trainer.training import TrainConfig, train_model

KERAS_MODELS = Path.home() / ".keras" / "models"
RESIZE = "centre-crop"


def mobilenetv2_weights(size: int, alpha: float, weights: Optional[Path]) -> Path:
    """A given ``--weights`` file, or Keras' cached ImageNet file; never a download (none is possible here)."""
    if weights is not None:
        if not Path(weights).is_file():
            raise DatasetError(f"{weights}: no such weights file")
        return Path(weights)
    cached = KERAS_MODELS / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5"
    if cached.is_file():
        return cached
    raise DatasetError(f"no ImageNet weights for mobilenetv2 (looked for {cached}); pass --weights FILE "
                       "or train from scratch without --backbone")


def train_folder_model(root: Path, name: str, size: int = 96, epochs: int = 60, quantization: str = "int8",
                       out_dir: Path = Path("models"), backbone: Optional[str] = None, weights: Optional[Path] = None,
                       seed: int = 1, log: Callable[[str], None] = print) -> Manifest:
    """The whole recipe; the validation photos are only evaluated, never used to choose weights."""
    started = time.monotonic()
    alpha = 0.35
    weights_path = mobilenetv2_weights(size, alpha, weights) if backbone == "mobilenetv2" else None
    scaling = Scaling("symmetric") if backbone else Scaling("unit")
    data = load_folder_dataset(root, size, size, RESIZE, seed=seed, log=log)
    binary = len(data.classes) == 2
    outputs = 1 if binary else len(data.classes)
    shape = (size, size, 3)
    model = build_mobilenetv2(shape, outputs, str(weights_path), alpha) if weights_path else build_photo_cnn(shape, outputs)
    log(f"training {model.name} ({model.count_params():,} parameters) on {len(data.train.labels)} photos, "
        f"classes {', '.join(data.classes)}, {epochs} epochs")
    config = TrainConfig(epochs=epochs, batch_size=32, learning_rate=2e-3, seed=seed, augment="photos")
    model, summary = train_model(model, data.train.images, data.train.labels, scaling, config, binary=binary,
                                 monitor=(data.validation.images, data.validation.labels))
    log(f"trained {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; converting to TFLite ({quantization})")
    tflite = to_tflite(model, quantization, calibration_samples(data.train.images, scaling, seed=seed))
    contract = ModelContract(name=name, task="binary" if binary else "multiclass", labels=data.classes, colour="rgb",
                             polarity="any", scaling=scaling, resize=RESIZE, threshold=0.5)
    training = {"arch": backbone or "photo-cnn", "quantization": quantization, "dataset": str(root),
                "skipped_files": len(data.train.skipped) + len(data.validation.skipped), **summary}
    model_path = write_model(tflite, contract, out_dir, training)
    manifest = evaluate_and_report(model, model_path, data.validation.images, data.validation.labels,
                                   f"{data.validation_name}", Path(out_dir) / "reports", log)
    log(f"wrote {model_path} and {model_path.with_suffix('.json')} in {time.monotonic() - started:.0f} s")
    return manifest
