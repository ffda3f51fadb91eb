"""The ImageNet backbone for the 28x28 models: what a camera shows them, seen with the world's eyes.

A 28x28 network trained on MNIST or Fashion-MNIST has only ever seen its items; whatever stands out
in a frame (a face, the cracks in a wall) it reads as one of them. The backbone knows the world, so
each 28x28 model gets a head (``shared.backbone.head``) holding the backbone's view of what it should see:

- **digits**: MNIST digits written by hand, printed on paper and drawn, calibrated across sources
  (``trainer.recipes.digits_head``). A frame unlike all of them is "nothing in view", unless nearly alike and
  the 28x28 network is sure; the digit itself is still read by the 28x28 network.
- **fashion**: real garment photos (``clothing-photos/train``): a frame unlike them is "nothing in
  view", and the head also names the garment from the backbone's features, which reads real clothes
  far better than a 28x28 cut-out does. The shoes folder mixes sandals, sneakers and boots; each shoe
  photo is labelled by the 28x28 network itself (garment framing), among the three shoe classes.
  Fashion-MNIST images themselves (28x28) are still read by the 28x28 network.

No negatives are learnt from: they are only measured, kind by kind (``nothing_by_folder``). Garment photos
do not use ImageNet's classes (``shared.backbone.imagenet_classes``): a garment's ImageNet classes are its
settings as much as itself (a bed, a hanger, a floor), so the class mass let furniture through (24% of it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from piclassify.shared.backbone.extractor import FeatureExtractor, load_description
from piclassify.shared.backbone.head import FittedHead
from piclassify.shared.backbone.head_model import place_backbone
from piclassify.shared.backbone.photo_head import VARIANTS, fit_photo_head
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Head, Manifest, load_manifest, write_manifest
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import FRAMING_REASONS, frame_for_model
from piclassify.shared.inference.runtime import load_runtime, usable_cores
from piclassify.shared.progress import Progress
from piclassify.trainer.backbone.build import find_folder
from piclassify.trainer.data.clothing import MAPPED, find_photos, measure_and_record_photos
from piclassify.trainer.data.datasets import DATASETS, load_dataset
from piclassify.trainer.nothing_in_view.measure import (
    kinds_in,
    measure_and_record,
    record_kinds,
    record_nothing_in_view,
)
from piclassify.trainer.nothing_in_view.sources import held_out
from piclassify.trainer.publish import record_metrics
from piclassify.trainer.recipes.digits_head import DIGIT_PHOTOS, KINDS, digits_reject, fit_digits_head

# The backbone's input side per model: digits on paper are told from everything else even at 144 (as at 160 and
# 224: every kind of other thing 100% "nothing"), at 40% of 224's cost; garments need 192 to tell a wood floor or a
# carpet with nothing on it (empty scenes) apart: 94.8% of them at 160, 90.8% at 176, 95.0% at 192.
BACKBONE_SIZES = {"digits": 144, "fashion": 192}
DIGITS_MEASURED = 1000  # MNIST test digits shown each way to measure the model
SHOE_CLASSES = ("Sandal", "Sneaker", "Ankle boot")


def head_file_for(model_path: Path) -> str:
    """``digits.tflite`` -> ``digits-head.npz`` (not ``digits.npz``: that name would be a model of its own)."""
    return f"{Path(model_path).stem}-head.npz"


def add_backbone_head(model_path: Path, name: str, backbone: Path, data_dir: Optional[Path] = None,
                      photos: Optional[Path] = None, seed: int = 1, log: Callable[[str], None] = print,
                      limit: Optional[int] = None) -> Manifest:
    """Fit the head for ``name`` (digits or fashion) on ``backbone`` (``find_backbone``'s) and write it, and the
    backbone section, beside ``model_path``.

    ``limit`` (the trainer's quick checks) bounds the photos the head holds.
    """
    model_path = Path(model_path)
    manifest = load_manifest(model_path)
    if manifest.labels != DATASETS[name].labels:
        raise DatasetError(f"{model_path}: not a {name} model (its labels differ)")
    backbone_path = place_backbone(backbone, model_path.parent)
    description = replace(load_description(backbone_path), size=BACKBONE_SIZES[name])
    extractor = FeatureExtractor(backbone_path.parent, description, load_runtime(), threads=usable_cores())
    digits = None
    if name == "digits":
        digits = fit_digits_head(extractor, load_dataset("digits", data_dir), data_dir,
                                 min(DIGIT_PHOTOS, limit or DIGIT_PHOTOS), seed, log)
        fitted, reject = digits.fitted, digits_reject(manifest.reject, digits.threshold)
    else:
        fitted = _fashion_head(extractor, Classifier.load(model_path), photos, data_dir, limit, seed, log)
        reject = replace(manifest.reject, min_similarity=round(fitted.min_similarity, 6))
    head_file = head_file_for(model_path)
    write_atomically(model_path.parent / head_file, fitted.data)
    head = Head(file=head_file, sha256=sha256_of(model_path.parent / head_file), classifies=name == "fashion",
                neighbours=fitted.neighbours)
    metrics = dict(manifest.metrics)
    if fitted.linear is not None:  # the garment head, on the training photos each left out in turn
        metrics["head_cross_validated_accuracy"] = fitted.linear.cross_validated_accuracy
    manifest = replace(manifest, backbone=description, head=head, metrics=metrics, reject=reject)
    write_manifest(manifest, model_path.with_suffix(".json"))
    log(f"{head_file}: nothing in view below similarity {reject.min_similarity:.3f} to the {fitted.neighbours} "
        f"nearest of {fitted.bank_photos} photos" + (f", and a head naming real garments (cross-validated "
                                                     f"{100 * fitted.linear.cross_validated_accuracy:.1f}%)"
                                                     if head.classifies else ""))
    if digits is not None:
        log("each source held out (its threshold from the others), through the device's code:")
        measured = held_out(Classifier.load(model_path), digits.sources, digits.similarities,
                            lambda threshold: digits_reject(manifest.reject, threshold), log)
        manifest = record_nothing_in_view(model_path, {"held_out_sources": measured})
    return manifest


def _fashion_head(extractor: FeatureExtractor, network: Classifier, photos: Optional[Path], data_dir: Optional[Path],
                  limit: Optional[int], seed: int, log: Callable[[str], None]) -> FittedHead:
    root = find_photos(photos, data_dir)
    if root is None:
        raise DatasetError("the fashion head learns from real garment photos: give --photos DIR (clothing-photos, "
                           "train/<class>/) or --data-dir holding clothing-photos")
    labels = network.manifest.labels
    images, targets = [], []
    for folder in (*MAPPED, "shoes"):
        files = [p for p in sorted((root / "train" / folder).glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        for path in files[:limit]:
            try:
                photo = read_image(path)
            except ImageError:
                continue
            label = MAPPED[folder][0] if folder in MAPPED else _shoe_label(network, photo)
            if label is None:
                continue
            images.append(extractor.frame(photo))
            targets.append(labels.index(label))
    log(f"{root / 'train'}: {len(images)} garment photos ({', '.join(MAPPED)}, and shoes labelled by the 28x28 "
        f"network)")
    with Progress("backbone on the garment photos", log, total=len(images) * (1 + VARIANTS)) as progress:
        return fit_photo_head(extractor, np.stack(images), np.asarray(targets), len(labels), seed, progress.advance)


def _shoe_label(network: Classifier, photo: np.ndarray) -> Optional[str]:
    """Which shoe class the 28x28 network sees in a photo of a shoe, through its garment framing (None when the
    framing finds no garment)."""
    framed = frame_for_model(photo, network.manifest)
    if framed.image is None:
        return None
    probabilities = network.predict(framed.image).probabilities
    return max(SHOE_CLASSES, key=lambda label: probabilities[network.manifest.labels.index(label)])


# each way of showing a digit, the metric that records it and the seed of its photos (none the head's)
MEASURED_KINDS = {"printed on paper": ("camera_photos", 11), "drawn on the canvas": ("drawings", 12),
                  "written by hand": ("handwritten", 13)}


def _test_digits(kind: str, items: np.ndarray) -> Iterator[np.ndarray]:
    """The first ``DIGITS_MEASURED`` test digits shown ``kind``'s way, the same photos each time."""
    rng = np.random.default_rng(MEASURED_KINDS[kind][1])
    render = KINDS[kind][1]
    return (render(item, rng) for item in items[:DIGITS_MEASURED])


def _record_digits_photos(model_path: Path, items: np.ndarray, labels: np.ndarray,
                          log: Callable[[str], None]) -> Manifest:
    """How the device reads test digits shown each way of ``KINDS``: right, and "nothing in view" from the framing
    or from the backbone; as ``metrics.camera_photos`` (printed on paper), ``drawings`` and ``handwritten``."""
    classifier = Classifier.load(model_path)
    metrics = {}
    for kind, (key, seed) in MEASURED_KINDS.items():
        answers = [classifier.classify_photo(photo) for photo in _test_digits(kind, items)]
        truth = labels[:len(answers)]
        right = sum(a.prediction is not None and a.prediction.index == t for a, t in zip(answers, truth))
        nothing = [a for a in answers if a.prediction is None]
        by_backbone = sum(not a.reason.startswith(FRAMING_REASONS) for a in nothing)
        metrics[key] = {"set": f"MNIST test digits {kind} (trainer.recipes.digits_head.KINDS, seed {seed})",
                        "photos": len(answers), "right": int(right), "nothing_in_view": len(nothing),
                        "nothing_by_backbone": int(by_backbone)}
        log(f"digits {kind}: {100 * right / len(answers):.1f}% right, {100 * len(nothing) / len(answers):.1f}% "
            f"nothing in view ({by_backbone} of them by the backbone, the rest by the framing)")
    return record_metrics(model_path, classifier.manifest, metrics)


def measure_camera_head(model_path: Path, name: str, data_dir: Optional[Path] = None, photos: Optional[Path] = None,
                        log: Callable[[str], None] = print, limit: Optional[int] = None) -> Manifest:
    """Nothing in view, through the device's code: empty scenes; the model's own things (digits written on paper
    it never saw, or the real validation garments); and every kind of other thing found among the datasets.

    ``limit`` (the trainer's quick checks) bounds the digits measured and reads every tenth photo of each kind.
    """
    stride = 10 if limit else 1
    if name == "digits":
        dataset = load_dataset("digits", data_dir)
        dataset = replace(dataset, x_test=dataset.x_test[:limit], y_test=dataset.y_test[:limit])
        objects, objects_name = _test_digits("written by hand", dataset.x_test), "MNIST test digits written by hand"
    else:
        root = find_photos(photos, data_dir)
        files = [p for folder in (*MAPPED, "shoes") for p in sorted((root / "validation" / folder).glob("*"))
                 if p.suffix.lower() in IMAGE_SUFFIXES]
        objects, objects_name = (read_image(p) for p in files), f"{root.name} validation garments"
    manifest = measure_and_record(model_path, objects, objects_name, None, log)
    if name == "fashion":
        manifest = measure_and_record_photos(model_path, find_photos(photos, data_dir), "validation", log)
    else:
        manifest = _record_digits_photos(model_path, dataset.x_test, dataset.y_test, log)
    others = {"negatives": None, "pets": "cats_and_dogs_filtered/validation"}
    if name == "digits":
        others["clothing"] = "clothing-photos/validation"
    kinds = {}
    for kind, relative in others.items():
        folder = find_folder(relative or kind, data_dir)
        if folder is not None:
            kinds.update(kinds_in(folder) if kind == "negatives" else {kind: folder})
    return record_kinds(model_path, kinds, log, stride) if kinds else manifest

