"""``piclassify teach``: a new photo model fitted on the Pi itself, from a folder per class, with no TensorFlow.

The bundled backbone looks at every example (and at jittered copies of it); ``shared.backbone.photo_head``
fits the head in NumPy, exactly as ``piclassify-train folder`` does on a workstation, and
``shared.backbone.head_model`` writes it atomically beside a copy of the backbone. The result is a model like
any other: ``models``, ``info``, ``predict``, ``run``, ``evaluate``, the service, the web view and MQTT
take it by name or path. Its manifest records the examples per class and the accuracy measured on
examples left out; with a ``validation/`` folder beside ``train/``, the accuracy on those photos too.

Everything that can be checked before the fit is: the name, the ``--out`` folder, the class names
(each must be able to be a label), the number of photos (at most the example store's maximum). The
photos are then read one at a time, and only what the backbone makes of each is kept, so a fit at the
store's maximum (16 classes of 500) stays within a few hundred MB whatever the photos' size.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Callable, Optional

import numpy as np

from piclassify.device.core.model_files import MODELS_DIR, checked_model_name, resolve_bundled
from piclassify.device.core.regions import Box
from piclassify.device.errors import ModelNameError, OutputError
from piclassify.device.teach.examples import MAX_CLASSES, MAX_PER_CLASS
from piclassify.device.teach.region_crops import crop_examples
from piclassify.shared.backbone.extractor import (
    BACKBONE_FILE,
    BACKBONE_NAME,
    FeatureExtractor,
    load_class_graph,
    load_description,
)
from piclassify.shared.backbone.head import FittedHead
from piclassify.shared.backbone.head_model import head_manifest, write_head_model
from piclassify.shared.backbone.photo_head import backbone_views, head_from_views, variants_for
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Backbone, Manifest
from piclassify.shared.errors import DatasetError, printable
from piclassify.shared.files.atomic_file import folder_lock, write_atomically
from piclassify.shared.files.photo_folders import FramedPhotos, PhotoList, class_names, folder_splits, list_split
from piclassify.shared.inference.runtime import distribution_version, load_runtime
from piclassify.shared.progress import Progress

MIN_EXAMPLES = 2  # per class: "nothing in view" is calibrated on examples left out in turn
MAX_PHOTOS = MAX_CLASSES * MAX_PER_CLASS  # photos one fit takes: the example store's maximum


def check_name(name: str) -> str:
    """A new model's name: a plain file name (``checked_model_name``), and not a bundled model's name."""
    if resolve_bundled(checked_model_name(name)) is not None:
        raise ModelNameError(f"{name}: a bundled model has that name; pick another")
    return name


def check_out(out_dir: Path, name: str) -> Path:
    """``--out``, checked before anything is fitted: a folder this user may write in, or one that can be made."""
    existing = Path(out_dir)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ("not a folder" if not existing.is_dir() else
               "Permission denied" if not os.access(existing, os.W_OK | os.X_OK) else None)
    if problem is not None:
        raise OutputError(f"{out_dir}: cannot write {name} there: {problem}"
                          + (f" ({existing})" if existing != Path(out_dir) else ""))
    return Path(out_dir)


def teach(name: str, folder: Path, out_dir: Path, per_class: Optional[int] = None, size: Optional[int] = None,
          threads: Optional[int] = None, runtime: Optional[str] = None, seed: int = 1,
          log: Callable[[str], None] = print, force: bool = False, region: Optional[Box] = None,
          recorded: Optional[dict[str, Any]] = None) -> Manifest:
    """Fit ``name`` on ``folder`` (``<class>/`` folders, or ``train/<class>/`` with ``validation/<class>/``);
    write ``out_dir/name.npz`` and its manifest; return the manifest. A model of that name already in ``out_dir`` is
    replaced only with ``force``. ``region``: each example is first cropped to it, as a watched region is before
    its model reads it. ``recorded``: what the manifest's training says of the examples instead of ``folder``."""
    started = time.monotonic()
    out_dir = check_out(out_dir, check_name(name))
    taken = [out_dir / f"{name}{suffix}" for suffix in (".npz", ".tflite", ".json")]
    if not force and any(path.exists() for path in taken):
        raise ModelNameError(f"{next(path for path in taken if path.exists())}: a model called {name} is already "
                             "there; give --force to replace it, or pick another name")
    if region is not None:
        with TemporaryDirectory(prefix="piclassify-region-") as cropped:
            made, unreadable = crop_examples(Path(folder), region, Path(cropped), 2 * MAX_PHOTOS)
            log(f"{printable(folder)}: {made} photos cropped to the region x={region.x:g} y={region.y:g} "
                f"w={region.w:g} h={region.h:g}" + (f", {unreadable} unreadable left out" if unreadable else ""))
            return teach(name, Path(cropped), out_dir, per_class, size, threads, runtime, seed, log, force,
                         recorded={"dataset": str(folder), "region": [region.x, region.y, region.w, region.h]})
    description = load_description(MODELS_DIR / BACKBONE_FILE)
    if size is not None:  # the backbone is fully convolutional: smaller is faster, larger sees more
        description = replace(description, size=size)
    classes, train, validation = _examples(Path(folder), per_class)
    loaded = load_runtime(runtime)
    fitted, counts, skipped = _fit(FeatureExtractor(MODELS_DIR, description, loaded, threads), train, classes, seed,
                                   log)
    linear = fitted.linear
    assert linear is not None, "a head fitted on examples classifies"
    log(f"{name}: {len(classes)} classes ({', '.join(f'{printable(c, 64)} {n}' for c, n in counts.items())}); "
        f"{100 * linear.cross_validated_accuracy:.1f}% of the examples right when left out; nothing in view "
        f"below similarity {fitted.min_similarity:.3f}")
    training = {"arch": f"{BACKBONE_NAME} head", "taught_on": "device", "dataset": str(train.folder),
                "photos": sum(counts.values()), "photos_per_class": counts,
                "views_per_photo": 1 + variants_for(len(train.paths)), "skipped_files": skipped, "seed": seed,
                **(recorded or {})}
    versions = {"piclassify": distribution_version("piclassify"), "numpy": np.__version__,
                "python": platform.python_version(), loaded.name: loaded.version}
    manifest = head_manifest(name, classes, description, fitted, {}, training, versions)
    try:
        model_path = write_head_model(out_dir, manifest, fitted, MODELS_DIR / BACKBONE_FILE)
        if validation is not None:
            photos = FramedPhotos(validation, description.size, description.size, description.resize)
            manifest = _record_validation(model_path, photos, threads, runtime, log)
    except OSError as exc:  # a full disk, a folder gone read-only meanwhile: the folder is left as it was
        raise OutputError(f"{out_dir}: cannot write {name} there: {exc.strerror or exc}") from None
    log(f"wrote {model_path} in {time.monotonic() - started:.0f} s; try it: piclassify predict --model {name} PHOTO")
    return manifest


def _examples(folder: Path, per_class: Optional[int]) -> tuple[tuple[str, ...], PhotoList, Optional[PhotoList]]:
    """The classes, and the photos of the training split (and of the validation split, if any), listed: every class
    able to be a label, at most ``MAX_PHOTOS`` photos, ``MIN_EXAMPLES`` of each class at least."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    train_dir, validation_dir = folder_splits(folder)
    classes = class_names(train_dir)
    train = list_split(train_dir, classes, per_class, MAX_PHOTOS)
    _check_enough(train.folder, train.per_class(classes))
    validation = None
    if validation_dir is not None and train_dir != folder:
        validation = list_split(validation_dir, classes, limit=MAX_PHOTOS)
    return classes, train, validation


def _check_enough(where: Path, counts: dict[str, int]) -> None:
    scarce = [printable(c, 64) for c, n in counts.items() if n < MIN_EXAMPLES]
    if scarce:
        raise DatasetError(f"{printable(where)}: each class needs at least {MIN_EXAMPLES} examples "
                           f"({', '.join(scarce)} {'has' if len(scarce) == 1 else 'have'} fewer)")


def _fit(extractor: FeatureExtractor, train: PhotoList, classes: tuple[str, ...], seed: int,
         log: Callable[[str], None]) -> tuple[FittedHead, dict[str, int], int]:
    """The head, from each photo read, framed and seen by the backbone in turn (with its jittered copies); the
    readable photos per class, and how many files were skipped. The backbone is let go before the fit."""
    backbone: Backbone = extractor.backbone
    photos = FramedPhotos(train, backbone.size, backbone.size, backbone.resize)
    variants = variants_for(len(photos))
    with Progress(f"the backbone on {len(photos)} examples and {variants} jittered copies of each", log,
                  total=len(photos) * (1 + variants)) as progress:
        plain, jittered = backbone_views(extractor, photos, variants, seed, progress.advance)
    del extractor  # its interpreter's memory, for the fit
    labels = photos.labels
    counts = {c: int(np.sum(labels == i)) for i, c in enumerate(classes)}
    log(f"{printable(train.folder)}: {len(labels)} photos in {len(classes)} classes"
        + (f", skipped {len(photos.skipped) + train.others} unreadable or non-image files"
           if photos.skipped or train.others else ""))
    _check_enough(train.folder, counts)
    fitted = head_from_views(plain, jittered, labels, len(classes), seed, load_class_graph(MODELS_DIR / BACKBONE_FILE))
    return fitted, counts, len(photos.skipped) + train.others


def _record_validation(model_path: Path, photos: FramedPhotos, threads: Optional[int], runtime: Optional[str],
                       log: Callable[[str], None]) -> Manifest:
    """The new model, loaded as every command loads it, on the validation photos (read one at a time): its answers
    and its labels, recorded in its manifest while the model there is still this one."""
    classifier = Classifier.load(model_path, threads, runtime)
    answered, labelled = [], []
    for image in photos:
        answer = classifier.classify_photo(image)
        answered.append(answer.prediction.index if answer.prediction else -1)
        labelled.append(int(classifier.image_probabilities(image).argmax()))
    truth = photos.labels
    if not len(truth):
        log(f"{printable(photos.listing.folder)}: no readable validation photos")
        return classifier.manifest
    right, labels_right, nothing = (round(float(np.mean(match)), 5) for match in (
        np.asarray(answered) == truth, np.asarray(labelled) == truth, np.asarray(answered) == -1))
    metrics = {"test_set": str(photos.listing.folder), "test_images": int(len(truth)), "tflite_accuracy": right,
               "label_accuracy": labels_right, "nothing_in_view_rate": nothing}
    log(f"on {len(truth)} validation photos: {100 * right:.1f}% of the answers right "
        f"({100 * nothing:.1f}% nothing in view), labels alone {100 * labels_right:.1f}%")
    manifest = replace(classifier.manifest, metrics={**classifier.manifest.metrics, **metrics})
    with folder_lock(model_path.parent):
        if sha256_of(model_path) == manifest.sha256:  # not replaced meanwhile by another fit of the same name
            write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    return manifest
