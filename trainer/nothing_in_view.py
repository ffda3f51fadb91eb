"""Measure a model's "nothing in view" decision with the device's own code, and record it in the manifest.

Two rates matter to a user: how often an empty scene is answered "nothing" (it should be almost
always), and how often a real object is (almost never). Both go through
``Classifier.classify_photo``, the framing and reject settings the Pi runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.manifest import Manifest
from piclassify.trainer.publish import record_metrics
from piclassify.trainer.scenes import empty_scenes

EMPTY_SCENES = 400  # 50 of each kind in trainer.scenes
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
    return record_metrics(model_path, classifier.manifest, {"nothing_in_view": measured})
