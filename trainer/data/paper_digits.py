"""MNIST digits as the device will see them: written on paper, photographed, and framed by the device's own code.

A camera's digit reaches the 28x28 network through the framing (``shared.framing.model_input``: lighting fitted
from the border, threshold, the object fitted into 20x20 and centred by mass), which thins a fine pen
stroke, keeps a little of a ruled line, or cuts a digit near the table's edge. MNIST has none of that.
So the digits recipe also trains on ``DIGITS`` training digits written on paper (``render_on_paper``)
and framed exactly as the Pi frames them, the way the fashion recipe learns from framed garments.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from piclassify.shared.framing.model_input import frame_object, to_gray
from piclassify.trainer.data.datasets import DATASETS
from piclassify.trainer.data.parallel import map_on_cores
from piclassify.trainer.data.photos import SAMPLE_SIZE, render_on_paper

DIGITS = 12000


def _render_and_frame(job: tuple[np.ndarray, int, int]) -> Optional[np.ndarray]:
    item, seed, number = job
    rng = np.random.default_rng([seed, number])  # per digit: the same photos on any number of cores
    photo = render_on_paper(item, rng, SAMPLE_SIZE)
    return frame_object(to_gray(photo), 28, fill=False, reject=DATASETS["digits"].reject).image


def framed_paper_digits(images: np.ndarray, labels: np.ndarray, count: int = DIGITS,
                        seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``count`` training digits drawn at random, written on paper and framed by the device's code (those the
    framing finds nothing in are left out), with their labels."""
    chosen = np.random.default_rng(seed).permutation(len(images))[:count]
    framed = map_on_cores(_render_and_frame, [(images[index], seed, int(index)) for index in chosen])
    kept = [n for n, item in enumerate(framed) if item is not None]
    return np.stack([framed[n] for n in kept]), np.asarray(labels[chosen[kept]], dtype=np.int64)
