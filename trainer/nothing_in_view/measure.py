"""Measure a model's "nothing in view" decision with the device's own code, and record it in the manifest.

Two rates matter to a user: how often an empty scene is answered "nothing" (it should be almost
always), and how often a real object is (almost never). Both go through
``Classifier.classify_photo``, the framing and reject settings the Pi runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest, load_manifest
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.trainer.data.scenes import empty_scenes
from piclassify.trainer.publish import record_metrics

EMPTY_SCENES = 400  # 50 of each kind in trainer.data.scenes
SCENES_SEED = 2024  # not the seed any training draws its scenes from


def nothing_rate(classifier: Classifier, photos: Iterable[np.ndarray]) -> tuple[float, int]:
    """The share of ``photos`` answered "nothing in view", and how many photos there were."""
    answers = [classifier.classify_photo(photo).prediction is None for photo in photos]
    return (float(np.mean(answers)) if answers else 0.0), len(answers)


def measure_and_record(model_path: Path, objects: Iterable[np.ndarray], objects_name: str,
                       negatives: Optional[np.ndarray] = None, log: Callable[[str], None] = print) -> Manifest:
    """Rates on empty scenes, on held-out ``negatives`` if any, and on ``objects`` (photos that each
    show a real object), stored as ``metrics.nothing_in_view`` in the manifest beside ``model_path``."""
    classifier = Classifier.load(model_path)
    scenes_rate, scenes = nothing_rate(classifier, (image for _, image in empty_scenes(EMPTY_SCENES, SCENES_SEED)))
    objects_rate, count = nothing_rate(classifier, objects)
    measured = {"empty_scenes": scenes, "empty_scenes_rate": round(scenes_rate, 4),
                "objects": count, "objects_set": objects_name, "objects_rate": round(objects_rate, 4)}
    line = f"nothing in view: {100 * scenes_rate:.1f}% of {scenes} empty scenes"
    if negatives is not None and len(negatives):
        negatives_rate, measured["negatives"] = nothing_rate(classifier, negatives)
        measured["negatives_rate"] = round(negatives_rate, 4)
        line += f", {100 * negatives_rate:.1f}% of {len(negatives)} held-out negatives"
    log(f"{line}; wrongly for {100 * objects_rate:.2f}% of {count} {objects_name}")
    return record_nothing_in_view(model_path, measured)


def record_nothing_in_view(model_path: Path, measured: Mapping[str, object]) -> Manifest:
    """``measured`` added to ``metrics.nothing_in_view`` of the manifest beside ``model_path``."""
    manifest = load_manifest(model_path)
    merged = {**manifest.metrics.get("nothing_in_view", {}), **measured}
    return record_metrics(model_path, manifest, {"nothing_in_view": merged})


def kinds_in(folder: Path) -> dict[str, Path]:
    """A folder of negatives as kinds of things: its sub-folders (or the folder itself, with none)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder of negatives")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()} or {folder.name: folder}


def nothing_by_kind(classifier: Classifier, kinds: Mapping[str, Path], stride: int = 1) -> dict[str, float]:
    """The share of each kind's photos (every ``stride``-th image under its folder) answered "nothing in view".

    Used on photos the model never learnt from: each kind is a kind of thing, and the worst one is what a
    camera pointed at something new may meet.
    """
    rates = {}
    for name, folder in kinds.items():
        paths = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        paths = paths[::stride]
        rate, count = nothing_rate(classifier, (photo for photo in map(_readable, paths) if photo is not None))
        if count:
            rates[name] = rate
    if not rates:
        raise DatasetError(f"no readable photos in {', '.join(str(f) for f in kinds.values())}")
    return rates


def record_kinds(model_path: Path, kinds: Mapping[str, Path], log: Callable[[str], None] = print,
                 stride: int = 1) -> Manifest:
    """``nothing_by_kind`` of the model, logged worst first and stored as ``metrics.nothing_in_view.kinds``."""
    classifier = Classifier.load(model_path)
    rates = nothing_by_kind(classifier, kinds, stride)
    ordered = sorted(rates.items(), key=lambda kv: kv[1])
    log("other things answered nothing, worst first: " + ", ".join(f"{k} {100 * r:.1f}%" for k, r in ordered))
    measured = dict(classifier.manifest.metrics.get("nothing_in_view", {}))
    measured["kinds"] = {"worst": ordered[0][0], "worst_rate": round(ordered[0][1], 4),
                         **{name: round(rate, 4) for name, rate in rates.items()}}
    return record_metrics(model_path, classifier.manifest, {"nothing_in_view": measured})


def _readable(path: Path) -> Optional[np.ndarray]:
    try:
        return read_image(path)
    except ImageError:
        return None
