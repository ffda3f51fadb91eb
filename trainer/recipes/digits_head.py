"""The digits head: what a digit on paper looks like to the backbone, and how sure the 28x28 network must be.

A camera's digit is never one of the photos the head learnt from: another pen, paper, light or phone. So

- the **bank** holds ``DIGIT_PHOTOS`` MNIST training digits, each shown one of the ways in ``KINDS``: written
  by hand with a pencil, pen or marker on paper or a sticky note and photographed (``render_written``),
  printed on a sheet with MNIST's own pen (``render_on_paper``), or drawn on the web view's canvas
  (``render_drawing``);
- the **threshold** is calibrated across sources (``trainer.nothing_in_view.sources``): each kind rendered
  again from other training digits, and the real photos of ``digit-photos/`` where the datasets have them,
  one source per collection: no source has more than 1% of its photos below it;
- a frame **nearly** as alike (``FLOOR_SHARE`` of the threshold) is still a digit when the 28x28 network is
  ``SURE_SCORE`` sure of it (a digit on a sticky note in a dim room: real photos 0.45-0.62 alike, the network
  97-100% sure; the Caltech scissors and headphones on white that come as close are read at 20-50%).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from piclassify.shared.backbone.extractor import FeatureExtractor
from piclassify.shared.backbone.head import (
    FittedHead,
    build_head,
    dequantize_bank,
    nearest_similarity,
    normalise,
    quantize_bank,
)
from piclassify.shared.contract.reject import Reject
from piclassify.shared.progress import Progress
from piclassify.trainer.data.datasets import ImageDataset
from piclassify.trainer.data.digit_photos import digit_photo_sources
from piclassify.trainer.data.handwriting import render_written
from piclassify.trainer.data.photos import render_drawing, render_on_paper
from piclassify.trainer.nothing_in_view.sources import Source, threshold_across

RENDER_SIZE = (320, 240)
KINDS: dict[str, tuple[float, Callable[[np.ndarray, np.random.Generator], np.ndarray]]] = {
    "written by hand": (0.6, lambda item, rng: render_written(item, rng, RENDER_SIZE)),
    "printed on paper": (0.3, lambda item, rng: render_on_paper(item, rng, RENDER_SIZE)),
    "drawn on the canvas": (0.1, render_drawing),
}
DIGIT_PHOTOS = 2000  # in the bank
CALIBRATION_DIGITS = 300  # per kind, other training digits
SURE_SCORE = 0.95
FLOOR_SHARE = 0.8
BANK = "the bank's own photos, each left out"


def digits_reject(base: Reject, threshold: float) -> Reject:
    """The digits model's framing settings with the backbone's: ``threshold``, and the network's sure path."""
    return Reject(**{**base.__dict__, "min_similarity": round(threshold, 6),
                     "floor_similarity": round(FLOOR_SHARE * threshold, 6), "sure_score": SURE_SCORE})


@dataclass(frozen=True)
class DigitsHead:
    """The fitted head, its threshold across sources, and the sources (to hold each out once the model is written)."""

    fitted: FittedHead
    threshold: float
    sources: dict[str, Source]
    similarities: dict[str, np.ndarray]


def fit_digits_head(extractor: FeatureExtractor, dataset: ImageDataset, data_dir: Optional[Path], count: int,
                    seed: int, log: Callable[[str], None]) -> DigitsHead:
    chosen = np.random.default_rng(seed).permutation(len(dataset.x_train))
    bank_items, rest = chosen[:count], chosen[count:]
    kinds = list(KINDS)
    shares = np.array([KINDS[kind][0] for kind in kinds])
    rng = np.random.default_rng(seed)
    with Progress(f"{count} digits for the bank, {' / '.join(kinds)}, through the backbone", log,
                  total=count) as progress:
        logits = []
        for index in bank_items:
            render = KINDS[kinds[int(rng.choice(len(kinds), p=shares))]][1]
            logits.append(extractor.extract(extractor.frame(render(dataset.x_train[index], rng)))[1])
            progress.advance()
    fitted = build_head(np.stack(logits), seed=seed)
    bank = dequantize_bank(quantize_bank(np.stack(logits)))  # the bank the head file holds (count < MAX_BANK)
    sources = {kind: _rendered(dataset, rest[n * CALIBRATION_DIGITS:(n + 1) * CALIBRATION_DIGITS], kind, seed + n)
               for n, kind in enumerate(kinds)}
    for name, (photos, labels) in digit_photo_sources(data_dir).items():
        sources[name] = Source(lambda photos=photos: iter(photos), labels)
    similarities = {BANK: nearest_similarity(bank, bank, fitted.neighbours, exclude_self=True)}
    with Progress("the calibration sources through the backbone", log) as progress:
        for name, source in sources.items():
            views = np.stack([extractor.extract(extractor.frame(photo))[1] for photo in source.photos()])
            similarities[name] = nearest_similarity(bank, normalise(views), fitted.neighbours)
            progress.note(f"{name}: {len(views)} photos, 1% below {np.quantile(similarities[name], 0.01):.3f}")
    return DigitsHead(fitted, threshold_across(similarities), sources, similarities)


def _rendered(dataset: ImageDataset, items: np.ndarray, kind: str, seed: int) -> Source:
    render = KINDS[kind][1]

    def photos() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        return (render(dataset.x_train[index], rng) for index in items)

    return Source(photos, np.asarray(dataset.y_train[items], dtype=np.int64))

