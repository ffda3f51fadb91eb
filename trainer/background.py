"""The background class a photo model learns so it can answer "nothing in view".

Its photos are the built-in empty scenes (``trainer.scenes``: paper, tabletops, fabric, walls, a
dark room, noise) plus the user's own negatives (``--negatives DIR``: any photos that show none
of the classes, in any sub-folders), framed exactly as the device frames a camera frame. A share
of each is held out, to measure how often the finished model says "nothing" for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from piclassify.shared.framing import frame_rgb
from piclassify.shared.imagefile import IMAGE_SUFFIXES
from piclassify.trainer.errors import DatasetError
from piclassify.trainer.folder_data import decode_photo
from piclassify.trainer.scenes import empty_scenes

BACKGROUND_LABEL = "nothing"
HELD_OUT = 0.2


@dataclass(frozen=True)
class Background:
    train: np.ndarray  # (N, H, W, 3) uint8, scenes and negatives mixed
    held_out_scenes: np.ndarray
    held_out_negatives: np.ndarray


def load_background(count: int, width: int, height: int, resize: str, negatives: Optional[Path] = None,
                    seed: int = 1, log: Callable[[str], None] = print) -> Background:
    """About ``count`` training photos of nothing to classify: half empty scenes, half negatives (when given)."""
    rng = np.random.default_rng(seed)
    negative_photos = _negatives(negatives, width, height, resize, rng, log) if negatives else np.zeros(
        (0, height, width, 3), np.uint8)
    scene_share = count // 2 if len(negative_photos) else count
    scenes = np.stack([frame_rgb(image, width, height, resize)
                       for _, image in empty_scenes(int(scene_share / (1 - HELD_OUT)) + 1, seed=seed)])
    scenes_train, scenes_held = _split(scenes, rng)
    negatives_train, negatives_held = _split(negative_photos, rng)
    negatives_train = negatives_train[:count - len(scenes_train)]
    log(f"background class {BACKGROUND_LABEL!r}: {len(scenes_train)} empty scenes and {len(negatives_train)} "
        f"negatives to learn from; {len(scenes_held)} and {len(negatives_held)} held out")
    return Background(np.concatenate([scenes_train, negatives_train]), scenes_held, negatives_held)


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
