"""``piclassify teach``: a new photo model fitted on the Pi itself, from a folder per class, with no TensorFlow.

The bundled backbone looks at every example (and at jittered copies of it); ``shared.backbone.photo_head``
fits the head in NumPy, exactly as ``piclassify-train folder`` does on a workstation, and
``shared.backbone.head_model`` writes it atomically beside a copy of the backbone. The result is a model like
any other: ``models``, ``info``, ``predict``, ``run``, ``evaluate``, the service, the web view and MQTT
take it by name or path. Its manifest records the examples per class and the accuracy measured on
examples left out; with a ``validation/`` folder beside ``train/``, the accuracy on those photos too.
"""

from __future__ import annotations

import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.device.core.model_files import MODELS_DIR, checked_model_name, resolve_bundled
from piclassify.device.errors import ModelNameError, OutputError
from piclassify.shared.backbone.extractor import (
    BACKBONE_FILE,
    BACKBONE_NAME,
    FeatureExtractor,
    load_class_graph,
    load_description,
)
from piclassify.shared.backbone.head_model import head_manifest, write_head_model
from piclassify.shared.backbone.photo_head import VARIANTS, fit_photo_head
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.errors import DatasetError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.folder_layout import train_folder, validation_folder
from piclassify.shared.files.photo_folders import PhotoSplit, class_names, load_split
from piclassify.shared.inference.runtime import distribution_version, load_runtime
from piclassify.shared.progress import Progress

MIN_EXAMPLES = 2  # per class: "nothing in view" is calibrated on examples left out in turn


def check_name(name: str) -> str:
    """A new model's name: a plain file name (``checked_model_name``), and not a bundled model's name."""
    if resolve_bundled(checked_model_name(name)) is not None:
        raise ModelNameError(f"{name}: a bundled model has that name; pick another")
    return name


def teach(name: str, folder: Path, out_dir: Path, per_class: Optional[int] = None, size: Optional[int] = None,
          threads: Optional[int] = None, runtime: Optional[str] = None, seed: int = 1,
          log: Callable[[str], None] = print, force: bool = False) -> Manifest:
    """Fit ``name`` on ``folder`` (``<class>/`` folders, or ``train/<class>/`` with ``validation/<class>/``);
    write ``out_dir/name.npz`` and its manifest; return the manifest. A model of that name already in ``out_dir`` is
    replaced only with ``force``."""
    started = time.monotonic()
    check_name(name)
    taken = [Path(out_dir) / f"{name}{suffix}" for suffix in (".npz", ".tflite", ".json")]
    if not force and any(path.exists() for path in taken):
        raise ModelNameError(f"{next(path for path in taken if path.exists())}: a model called {name} is already "
                             "there; give --force to replace it, or pick another name")
    description = load_description(MODELS_DIR / BACKBONE_FILE)
    if size is not None:  # the backbone is fully convolutional: smaller is faster, larger sees more
        description = replace(description, size=size)
    loaded = load_runtime(runtime)
    extractor = FeatureExtractor(MODELS_DIR, description, loaded, threads)
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    train_dir = train_folder(folder)
    classes = class_names(train_dir)
    train = load_split(train_dir, classes, description.size, description.size, description.resize, log, per_class)
    counts = {c: int(np.sum(train.labels == i)) for i, c in enumerate(classes)}
    scarce = [c for c, n in counts.items() if n < MIN_EXAMPLES]
    if scarce:
        raise DatasetError(f"{train_dir}: each class needs at least {MIN_EXAMPLES} examples ({', '.join(scarce)} "
                           f"{'has' if len(scarce) == 1 else 'have'} fewer)")
    with Progress(f"the backbone on {len(train.labels)} examples and {VARIANTS} jittered copies of each", log,
                  total=len(train.labels) * (1 + VARIANTS)) as progress:
        fitted = fit_photo_head(extractor, train.images, train.labels, len(classes), seed, progress.advance,
                                load_class_graph(MODELS_DIR / BACKBONE_FILE))
    linear = fitted.linear
    assert linear is not None, "a head fitted on examples classifies"
    log(f"{name}: {len(classes)} classes ({', '.join(f'{c} {n}' for c, n in counts.items())}); "
        f"{100 * linear.cross_validated_accuracy:.1f}% of the examples right when left out; nothing in view "
        f"below similarity {fitted.min_similarity:.3f}")
    training = {"arch": f"{BACKBONE_NAME} head", "taught_on": "device", "dataset": str(train_dir),
                "photos": int(len(train.labels)), "photos_per_class": counts, "views_per_photo": 1 + VARIANTS,
                "skipped_files": len(train.skipped), "seed": seed}
    versions = {"piclassify": distribution_version("piclassify"), "numpy": np.__version__,
                "python": platform.python_version(), loaded.name: loaded.version}
    manifest = head_manifest(name, classes, description, fitted, {}, training, versions)
    try:
        model_path = write_head_model(Path(out_dir), manifest, fitted, MODELS_DIR / BACKBONE_FILE)
        validation_dir = validation_folder(folder)
        if validation_dir is not None and train_dir != folder:
            validation = load_split(validation_dir, classes, description.size, description.size,
                                    description.resize, log)
            manifest = _record_validation(model_path, validation, str(validation_dir), threads, runtime, log)
    except OSError as exc:  # a read-only folder, a file in the way, a full disk: the manifest goes last, so no model
        raise OutputError(f"{out_dir}: cannot write {name} there: {exc.strerror or exc}") from None
    log(f"wrote {model_path} in {time.monotonic() - started:.0f} s; try it: piclassify predict --model {name} PHOTO")
    return manifest


def _record_validation(model_path: Path, validation: PhotoSplit, where: str, threads: Optional[int],
                       runtime: Optional[str], log: Callable[[str], None]) -> Manifest:
    """The new model, loaded as every command loads it, on the validation photos: its answers and its labels."""
    classifier = Classifier.load(model_path, threads, runtime)
    answers = [classifier.classify_photo(image) for image in validation.images]
    answered = np.array([a.prediction.index if a.prediction else -1 for a in answers])
    labels = classifier.probabilities(validation.images).argmax(axis=1)
    right, labels_right, nothing = (round(float(np.mean(match)), 5) for match in (
        answered == validation.labels, labels == validation.labels, answered == -1))
    metrics = {"test_set": where, "test_images": int(len(validation.labels)), "tflite_accuracy": right,
               "label_accuracy": labels_right, "nothing_in_view_rate": nothing}
    log(f"on {len(validation.labels)} validation photos: {100 * right:.1f}% of the answers right "
        f"({100 * nothing:.1f}% nothing in view), labels alone {100 * labels_right:.1f}%")
    manifest = replace(classifier.manifest, metrics={**classifier.manifest.metrics, **metrics})
    write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    return manifest
