"""A head fitted on photos: the backbone looks at each photo and at jittered copies, then ``build_head``.

The trainer (``piclassify-train folder``, the fashion head) and the Pi (``piclassify teach``) both fit
with this, through the device's own int8 backbone, so a head is fitted on exactly the numbers the Pi
will compute and the two sides make the same kind of model from the same photos. The jittered copies
(mirror image, a closer crop, other light) keep a head learnt from a few photos per class from hanging
on one framing of each. Given the backbone's class graph, the head also learns which ImageNet classes its
photos are (``shared.backbone.imagenet_classes``), for the gate's class mass (``shared.backbone.gate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Protocol

import cv2
import numpy as np

from piclassify.shared.backbone.extractor import FeatureExtractor
from piclassify.shared.backbone.head import (
    FALSE_NOTHING,
    GUARDED_FALSE_NOTHING,
    SURE_CLASS_MASS,
    FittedHead,
    build_head,
    calibrate_min_class_mass,
)
from piclassify.shared.backbone.imagenet_classes import ClassGraph, class_mass, class_set, sure_set

VARIANTS = 4  # jittered copies of each training photo the head also learns from
MAX_VIEWS = 6_000  # views a fit on the Pi keeps at most: from 1,200 photos on, fewer jittered copies of each


def jitter_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another shot of the same subject: cropped closer or off-centre, other white balance, exposure, gamma."""
    h, w = image.shape[:2]
    crop_w, crop_h = int(w * rng.uniform(0.85, 1.0)), int(h * rng.uniform(0.85, 1.0))
    x0, y0 = int(rng.integers(0, w - crop_w + 1)), int(rng.integers(0, h - crop_h + 1))
    shot = image[y0:y0 + crop_h, x0:x0 + crop_w].astype(np.float32)
    shot = shot * (rng.uniform(0.8, 1.2, 3) * rng.uniform(0.8, 1.2)).astype(np.float32) + rng.uniform(-20, 20)
    shot = 255.0 * (np.clip(shot, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
    return np.clip(shot, 0, 255).astype(np.uint8)


def jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A framed RGB image as another shot might have framed it (``jitter_photo``), half of them mirrored."""
    shot = jitter_photo(image[:, ::-1] if rng.random() < 0.5 else image, rng)
    return cv2.resize(shot, image.shape[1::-1], interpolation=cv2.INTER_AREA)


class Photos(Protocol):
    """Framed photos, counted before they are read (an array of them, or ``photo_folders.FramedPhotos``)."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class Views:
    """Per photo (N rows, or N x variants rows for the jittered copies): the backbone's features and logits."""

    features: np.ndarray
    logits: np.ndarray


def backbone_views(extractor: FeatureExtractor, images: Photos, variants: int = 0, seed: int = 1,
                   advance: Callable[[int], None] = lambda count: None) -> tuple[Views, Views]:
    """The framed photos as they are, and ``variants`` jittered copies of each (empty when 0), through the
    backbone; ``advance`` hears how many images each photo cost (for a progress bar).

    ``images`` may be read as it is iterated (``FramedPhotos``), at most ``len(images)`` of them: only what the
    backbone makes of each photo is kept, in arrays made once for them all.
    """
    rng = np.random.default_rng(seed)
    spec = extractor.backbone
    plain = _Rows(len(images), spec.features.shape, spec.logits.shape)
    jittered = _Rows(len(images) * variants, spec.features.shape, spec.logits.shape)
    for image in images:
        plain.add(*extractor.extract(image))
        for _ in range(variants):
            jittered.add(*extractor.extract(jitter(image, rng)))
        advance(1 + variants)
    return plain.views(), jittered.views()


class _Rows:
    """Features and logits of up to ``count`` views, filled in turn."""

    def __init__(self, count: int, features: tuple[int, ...], logits: tuple[int, ...]) -> None:
        self.features = np.zeros((count, *features), np.float32)
        self.logits = np.zeros((count, *logits), np.float32)
        self.filled = 0

    def add(self, features: np.ndarray, logits: np.ndarray) -> None:
        self.features[self.filled], self.logits[self.filled] = features, logits
        self.filled += 1

    def views(self) -> Views:
        if self.filled == len(self.features):
            return Views(self.features, self.logits)
        return Views(self.features[:self.filled].copy(), self.logits[:self.filled].copy())


def variants_for(photos: int) -> int:
    """Jittered copies of each photo a fit on the Pi learns from: ``VARIANTS``, fewer where the photos are many, so
    that the views stay within ``MAX_VIEWS`` (each photo is still seen once): what a fit holds grows with the
    examples only up to the store's maximum of 8,000."""
    return int(min(VARIANTS, max(0, MAX_VIEWS // max(1, photos) - 1)))


def fit_photo_head(extractor: FeatureExtractor, images: np.ndarray, labels: np.ndarray, classes: int, seed: int = 1,
                   advance: Callable[[int], None] = lambda count: None,
                   graph: Optional[ClassGraph] = None) -> FittedHead:
    """A head that classifies, from the photos: ``head_from_views`` of their ``backbone_views``."""
    plain, jittered = backbone_views(extractor, images, VARIANTS, seed, advance)
    return head_from_views(plain, jittered, labels, classes, seed, graph)


def head_from_views(plain: Views, jittered: Views, labels: np.ndarray, classes: int, seed: int = 1,
                    graph: Optional[ClassGraph] = None) -> FittedHead:
    """The bank is the photos as they are, the linear layer learns from them and from their ``VARIANTS`` jittered
    copies each (cross-validated by photo, so no copy is judged by its own original); ``classes`` 0: no layer.

    With the backbone's class ``graph``, the head also holds the ImageNet classes its photos are (the jittered
    copies vote too freely: with them, wolves, lemurs and laptops joined the cats and dogs), and the least of the
    backbone's belief on them a frame needs (``calibrate_min_class_mass``, over every view); the class mass
    guards the similarity, which may then let more of the model's own photos through (``GUARDED_FALSE_NOTHING``).
    What it turns away and lets through, taught from 10 to 50 photos per class, is measured in docs/teach.md.
    """
    labels = np.asarray(labels, dtype=np.int64)
    photos = np.arange(len(labels))
    known, sure, floor = None, None, 0.0
    if graph is not None:  # the photos as they are say what they are; every view says how much belief they get
        views = np.concatenate([plain.logits, jittered.logits])
        known = class_set(plain.logits, photos, labels, graph)
        if len(known) == 0:  # photos ImageNet has no class for (drawn shapes): the similarity alone, as before
            known = None
        else:
            sure = sure_set(plain.logits, photos, labels, graph, known, views, SURE_CLASS_MASS)
            floor = round(calibrate_min_class_mass(class_mass(views, known)), 4)
    false_nothing = GUARDED_FALSE_NOTHING if known is not None else FALSE_NOTHING
    if not classes:
        return build_head(plain.logits, seed=seed, false_nothing=false_nothing, imagenet_classes=known,
                          min_class_mass=floor, sure_classes=sure)
    variants = len(jittered.logits) // max(1, len(labels))
    features = np.concatenate([plain.features, jittered.features]) if variants else plain.features
    return build_head(plain.logits, features,
                      np.concatenate([labels, np.repeat(labels, variants)]), classes,
                      np.concatenate([photos, np.repeat(photos, variants)]), seed, false_nothing, known, floor, sure)
