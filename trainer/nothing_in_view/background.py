"""The background class a photo model learns so it can answer "nothing in view".

Its photos are the built-in empty scenes (``trainer.data.scenes``: paper, tabletops, fabric, walls, a
dark room, noise) plus the user's own negatives (``--negatives DIR``: any photos that show none
of the classes, in any sub-folders), framed exactly as the device frames a camera frame. Every
negative is learned from, a few hundred afresh in each epoch, so a large folder costs no longer
epochs. A share of each is held out, to measure how often the finished model says "nothing" for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest, manifest_path_for, write_manifest
from piclassify.shared.errors import DatasetError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES
from piclassify.shared.files.photo_folders import decode_photo
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.trainer.data.scenes import empty_scenes

BACKGROUND_LABEL = "nothing"
HELD_OUT = 0.2
# with negatives, a quarter are empty scenes: they are easy, real things that are not a class are not
SCENE_SHARE = 0.25
# The background threshold is raised while this share of the held-out negatives still gets "nothing": 3 points
# above the 90% asked of photos that show no class, as photos from elsewhere read a little worse than held-out ones.
NEGATIVES_KEPT = 0.93
MAX_THRESHOLD = 0.95


@dataclass(frozen=True)
class Background:
    scenes: np.ndarray  # (N, H, W, 3) uint8, in every epoch
    negatives: np.ndarray  # all the negatives to learn from, of which an epoch draws ``negatives_per_epoch``
    negatives_per_epoch: int
    held_out_scenes: np.ndarray
    held_out_negatives: np.ndarray


def load_background(count: int, width: int, height: int, resize: str, negatives: Optional[Path] = None,
                    seed: int = 1, log: Callable[[str], None] = print) -> Background:
    """About ``count`` training photos of nothing to classify in each epoch: empty scenes, and three times as
    many negatives when they are given."""
    rng = np.random.default_rng(seed)
    negative_photos = _negatives(negatives, width, height, resize, rng, log) if negatives else np.zeros(
        (0, height, width, 3), np.uint8)
    scene_share = int(count * SCENE_SHARE) if len(negative_photos) else count
    scenes = np.stack([frame_rgb(image, width, height, resize)
                       for _, image in empty_scenes(int(scene_share / (1 - HELD_OUT)) + 1, seed=seed)])
    scenes_train, scenes_held = _split(scenes, rng)
    negatives_train, negatives_held = _split(negative_photos, rng)
    per_epoch = min(len(negatives_train), count - len(scenes_train))
    log(f"background class {BACKGROUND_LABEL!r}: {len(scenes_train)} empty scenes and {per_epoch} of "
        f"{len(negatives_train)} negatives (drawn afresh) in each epoch; {len(scenes_held)} and "
        f"{len(negatives_held)} held out")
    return Background(scenes_train, negatives_train, per_epoch, scenes_held, negatives_held)


def _negatives(folder: Path, width: int, height: int, resize: str, rng: np.random.Generator,
               log: Callable[[str], None]) -> np.ndarray:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder of negatives")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    photos = [photo for photo in (decode_photo(p, width, height, resize) for p in paths) if photo is not None]
    if len(photos) < len(paths):
        log(f"{folder}: skipped {len(paths) - len(photos)} unreadable negatives")
    if not photos:
        raise DatasetError(f"{folder}: no readable photos among the negatives")
    return np.stack(photos)[rng.permutation(len(photos))]


def _split(photos: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(photos))
    held = int(round(len(photos) * HELD_OUT))
    return photos[order[held:]], photos[order[:held]]


def calibrate_threshold(background_probabilities: np.ndarray, keep: float = NEGATIVES_KEPT) -> float:
    """The highest background threshold, from 0.5 up to ``MAX_THRESHOLD``, at which ``keep`` of the held-out
    negatives (their background probabilities, as the device computes them) still get "nothing in view".

    Whatever margin the model has above ``keep`` is spent on fewer real objects wrongly answered "nothing".
    """
    ordered = np.sort(np.asarray(background_probabilities, dtype=np.float64))
    allowed = len(ordered) - int(np.ceil(keep * len(ordered)))  # how many may fall at or below the threshold
    if allowed <= 0:
        return 0.5
    threshold = (ordered[allowed - 1] + ordered[allowed]) / 2  # between the last let through and the first kept
    return float(np.clip(threshold, 0.5, MAX_THRESHOLD))


def calibrate_background(model_path: Path, background: Background, log: Callable[[str], None] = print) -> Manifest:
    """Store ``calibrate_threshold`` of the exported model (the device's code: int8, mirror average) on the
    held-out negatives, or the held-out scenes when there are none, in the manifest beside ``model_path``."""
    classifier = Classifier.load(model_path)
    manifest = classifier.manifest
    held_out = background.held_out_negatives if len(background.held_out_negatives) else background.held_out_scenes
    probabilities = classifier.probabilities(held_out)[:, manifest.labels.index(BACKGROUND_LABEL)]
    threshold = calibrate_threshold(probabilities)
    manifest = replace(manifest, reject=replace(manifest.reject, background_threshold=threshold))
    write_manifest(manifest, manifest_path_for(model_path))
    log(f"background threshold {threshold:.3f}: {100 * np.mean(probabilities > threshold):.1f}% of {len(held_out)} "
        f"held-out negatives answered nothing (at 0.5: {100 * np.mean(probabilities > 0.5):.1f}%)")
    return manifest
