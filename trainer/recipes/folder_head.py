"""Photo folders on the ImageNet backbone (the default of ``piclassify-train folder``): a head, not a network.

The backbone (EfficientNet-Lite0, int8, the very file the Pi runs) looks at every training photo and
at jittered copies of it; a softmax regression over its features names the classes, and its view of
the photos themselves (their ImageNet logits) is what a frame must resemble to be "in view"
(``shared.backbone.head``). Nothing is learnt from negatives: ``--negatives`` are only measured, folder by
folder, and the worst folder is reported, since a camera meets kinds of things no list holds.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.backbone.extractor import BACKBONE_NAME, FeatureExtractor, load_class_graph, load_description
from piclassify.shared.backbone.head_model import head_manifest, head_reject, write_head_model
from piclassify.shared.backbone.photo_head import VARIANTS, backbone_views, head_from_views
from piclassify.shared.classifier import Classifier
from piclassify.shared.confusion import confusion_matrix, per_class_lines, save_confusion_png
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.tensors import output_probabilities, predicted_indices
from piclassify.shared.errors import DatasetError
from piclassify.shared.files.photo_folders import FolderDataset, PhotoSplit, load_folder_dataset
from piclassify.shared.inference.runtime import load_runtime, usable_cores
from piclassify.shared.progress import Progress
from piclassify.trainer.backbone.build import find_backbone
from piclassify.trainer.nothing_in_view.collections import record_collections
from piclassify.trainer.nothing_in_view.held_out_kinds import held_out_kinds
from piclassify.trainer.nothing_in_view.measure import (
    kinds_in,
    measure_and_record,
    record_kinds,
    record_nothing_in_view,
)
from piclassify.trainer.publish import data_name, producer_versions, record_metrics, say_written


def limit_per_class(split: PhotoSplit, count: Optional[int]) -> PhotoSplit:
    """The first ``count`` photos of each class (in file order), for measuring how many photos a class needs."""
    if count is None:
        return split
    keep = np.concatenate([np.flatnonzero(split.labels == label)[:count] for label in np.unique(split.labels)])
    return PhotoSplit(split.images[np.sort(keep)], split.labels[np.sort(keep)], split.skipped)


def train_head_model(root: Path, name: str, out_dir: Path = Path("models"), backbone: Optional[Path] = None,
                     negatives: Optional[Path] = None, per_class: Optional[int] = None,
                     size: Optional[int] = None, seed: int = 1, log: Callable[[str], None] = print,
                     held_out: Optional[Path] = None) -> Manifest:
    """The whole recipe; the validation photos are only measured, never used to choose anything."""
    started = time.monotonic()
    backbone_path = find_backbone(out_dir, backbone, log)
    description = load_description(backbone_path)
    if size is not None:  # the backbone is fully convolutional: smaller is faster, larger sees more
        description = replace(description, size=size)
    extractor = FeatureExtractor(backbone_path.parent, description, load_runtime(), threads=usable_cores())
    data = load_folder_dataset(root, description.size, description.size, description.resize, seed=seed, log=log)
    train = limit_per_class(data.train, per_class)
    if per_class is not None:
        log(f"learning from the first {per_class} photos of each class: {len(train.labels)} photos")
    graph = load_class_graph(backbone_path)
    with Progress("backbone on the training photos", log, total=len(train.labels) * (1 + VARIANTS)) as progress:
        plain, jittered = backbone_views(extractor, train.images, VARIANTS, seed, progress.advance)
    fitted = head_from_views(plain, jittered, train.labels, len(data.classes), seed, graph)
    log(f"head: {len(data.classes)} classes from {len(train.labels) * (1 + VARIANTS)} views of {len(train.labels)} "
        f"photos (weight decay {fitted.linear.l2:g} by cross-validation: "
        f"{100 * fitted.linear.cross_validated_accuracy:.1f}%); nothing in view below similarity "
        f"{fitted.min_similarity:.3f} to the {fitted.neighbours} nearest of {fitted.bank_photos}")
    training = {"arch": f"{BACKBONE_NAME} head", "dataset": data_name(root), "photos": int(len(train.labels)),
                "photos_per_class": {c: int(np.sum(train.labels == i)) for i, c in enumerate(data.classes)},
                "views_per_photo": 1 + VARIANTS,
                "skipped_files": data.train.skipped + data.validation.skipped,
                "seed": seed}
    manifest = head_manifest(name, data.classes, description, fitted, {}, training, producer_versions())
    model_path = write_head_model(out_dir, manifest, fitted, backbone_path)
    manifest = evaluate_head_model(model_path, data, Path(out_dir) / "reports", log)
    manifest = measure_and_record(model_path, data.validation.images, f"{data_name(data.validation_name, 2)} photos",
                                  None, log)
    record_nothing_in_view(model_path, {"held_out_kinds": held_out_kinds(plain, jittered, train.labels, graph,
                                                                         head_reject, seed, log)})
    if held_out is not None:
        manifest = record_collections(model_path, held_out, log)
    if negatives is not None:
        manifest = record_kinds(model_path, kinds_in(negatives), log)
    seconds = time.monotonic() - started
    manifest = record_metrics(model_path, manifest, {"training_seconds": round(seconds, 1)})
    say_written(model_path, manifest, seconds, log)
    return manifest


def evaluate_head_model(model_path: Path, data: FolderDataset, report_dir: Path,
                        log: Callable[[str], None]) -> Manifest:
    """Every validation photo through the device's code: the label alone, and the answer with "nothing in view"."""
    classifier = Classifier.load(model_path)
    manifest = classifier.manifest
    answers = [classifier.classify_photo(image) for image in data.validation.images]
    nothing = len(manifest.labels)
    answered = np.array([a.prediction.index if a.prediction else nothing for a in answers])
    truth = data.validation.labels
    head_probabilities = classifier.probabilities(data.validation.images)
    head_labels = predicted_indices(head_probabilities, manifest)
    metrics = {"test_set": data_name(data.validation_name, 2), "test_images": int(len(truth)),
               "tflite_accuracy": round(float(np.mean(answered == truth)), 5),
               "label_accuracy": round(float(np.mean(head_labels == truth)), 5),
               "model_bytes": model_path.stat().st_size}
    metrics.update(keras_comparison(classifier, data.validation.images, truth, head_labels))
    matrix = confusion_matrix(truth, answered, nothing + 1)
    labels = tuple(manifest.labels) + ("nothing",)
    log("per-class accuracy (the device's answers; nothing in view counts as wrong):")
    for line in per_class_lines(matrix, labels):
        log(line)
    log(f"accuracy {100 * metrics['tflite_accuracy']:.2f}% of {len(truth)} {data.validation_name} photos "
        f"(labels alone {100 * metrics['label_accuracy']:.2f}%)")
    report_dir.mkdir(parents=True, exist_ok=True)
    png = report_dir / f"{manifest.name}-confusion.png"
    save_confusion_png(matrix, labels, f"{manifest.name}: {100 * metrics['tflite_accuracy']:.2f}%", png)
    log(f"report: {png}")
    return record_metrics(model_path, manifest, metrics)


def keras_comparison(classifier: Classifier, images: np.ndarray, truth: np.ndarray,
                     int8_labels: np.ndarray) -> dict:
    """The same head on the float Keras backbone's features: how much int8 costs (or nothing, without the weights)."""
    from piclassify.shared.contract.scaling import scale_pixels
    from piclassify.trainer.backbone.efficientnet_lite import build_efficientnet_lite0, load_imagenet_weights

    backbone = classifier.manifest.backbone
    try:
        model = build_efficientnet_lite0(backbone.size)
        load_imagenet_weights(model)
    except DatasetError:
        return {}
    features, _ = model.predict(scale_pixels(images, backbone.scaling), verbose=0, batch_size=32)
    probabilities = output_probabilities(classifier.head.logits(np.asarray(features)), classifier.manifest)
    keras_labels = predicted_indices(probabilities, classifier.manifest)
    return {"keras_accuracy": round(float(np.mean(keras_labels == truth)), 5),
            "keras_tflite_agreement": round(float(np.mean(keras_labels == int8_labels)), 5)}
