"""The backbone's features and logits of many photos, through the device's own int8 backbone.

A head is fitted on exactly the numbers the Pi will compute, so there is no float-versus-int8 gap to
measure after the fact. Training photos also give jittered copies (mirror image, a closer crop, other
light), so that a head learnt from a few photos per class does not hang on one framing of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from piclassify.shared.backbone import FeatureExtractor
from piclassify.trainer.photos import jitter_photo
from piclassify.trainer.progress import Progress


@dataclass(frozen=True)
class Views:
    """Per photo (N rows, or N x variants rows with ``jittered``): the backbone's features and logits."""

    features: np.ndarray
    logits: np.ndarray


def jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A framed RGB image as another shot might have framed it (``jitter_photo``), half of them mirrored."""
    shot = jitter_photo(image[:, ::-1] if rng.random() < 0.5 else image, rng)
    return cv2.resize(shot, image.shape[1::-1], interpolation=cv2.INTER_AREA)


def backbone_views(extractor: FeatureExtractor, images: np.ndarray, what: str, log: Callable[[str], None],
                   variants: int = 0, seed: int = 1) -> tuple[Views, Views]:
    """The photos as they are, and ``variants`` jittered copies of each (empty when 0), through the backbone."""
    rng = np.random.default_rng(seed)
    plain, jittered = [], []
    with Progress(f"backbone on {what}", log, total=len(images) * (1 + variants)) as progress:
        for image in images:
            plain.append(extractor.extract(image))
            for _ in range(variants):
                jittered.append(extractor.extract(jitter(image, rng)))
            progress.advance(1 + variants)
    return _views(plain, extractor), _views(jittered, extractor)


def _views(pairs: list[tuple[np.ndarray, np.ndarray]], extractor: FeatureExtractor) -> Views:
    spec = extractor.backbone
    if not pairs:
        return Views(np.zeros((0, *spec.features.shape), np.float32), np.zeros((0, *spec.logits.shape), np.float32))
    return Views(np.stack([f for f, _ in pairs]), np.stack([logit for _, logit in pairs]))
