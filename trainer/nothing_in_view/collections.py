"""Photos of a model's own classes from other collections: measured per collection, never learnt from.

``piclassify-train folder --held-out DIR`` reads ``DIR/<class>/`` (class folders named as the model's labels,
any case); a file named ``<collection>__<name>`` is from that collection (``pets-varied`` names its files so:
``oxford__...``, ``afhq__...``), any other from ``DIR`` itself. Each collection is a source no part of the
model, its threshold included, was made from: what it gets through the device's code is what a camera
meeting photos like it gets. The worst collection is reported.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.trainer.nothing_in_view.measure import record_nothing_in_view
from piclassify.trainer.nothing_in_view.sources import Source, answers_of
from piclassify.trainer.publish import data_name


def collections_in(folder: Path, labels: tuple[str, ...]) -> dict[str, list[tuple[Path, int]]]:
    """``{collection: [(photo path, label index)]}`` from ``folder/<label>/`` folders."""
    by_name = {label.lower(): index for index, label in enumerate(labels)}
    found: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    for class_folder in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        index = by_name.get(class_folder.name.lower())
        if index is None:
            continue
        for path in sorted(class_folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                collection = path.name.split("__", 1)[0] if "__" in path.name else Path(folder).name
                found[collection].append((path, index))
    if not found:
        raise DatasetError(f"{folder}: no photos in folders named as the model's labels ({', '.join(labels)})")
    return dict(found)


def record_collections(model_path: Path, folder: Path, log: Callable[[str], None] = print) -> Manifest:
    """Each collection's photos through the device's code, as ``metrics.nothing_in_view.other_collections``."""
    classifier = Classifier.load(model_path)
    measured = {}
    for name, items in collections_in(folder, classifier.manifest.labels).items():
        readable = [(path, index) for path, index in items if _readable(path)]
        source = Source(lambda readable=readable: (read_image(path) for path, _ in readable),
                        np.array([index for _, index in readable]))
        measured[name] = answers_of(classifier, source)
        log(f"  {name}: {100 * measured[name]['right']:.1f}% right, {100 * measured[name]['nothing']:.1f}% nothing "
            f"in view of {measured[name]['photos']}")
    worst = max(measured, key=lambda name: measured[name]["nothing"])
    return record_nothing_in_view(model_path, {"other_collections": {"set": data_name(folder), "worst": worst,
                                                                     "worst_nothing": measured[worst]["nothing"],
                                                                     **measured}})


def _readable(path: Path) -> bool:
    try:
        read_image(path)
    except ImageError:
        return False
    return True
