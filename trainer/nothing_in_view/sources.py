"""Calibrate "nothing in view" across the ways a camera sees a model's things, and check it holding each out.

A model's own photos are one way of seeing its things; a camera has many: another pen or paper, another
collection of pets. The similarity threshold is calibrated on several *sources* at once (the lowest of
their 1% quantiles: no source has more than 1% of its photos turned away); then each source is held out in
turn, the threshold the others give is applied to it through the device's own code, and what it gets is
what a camera meeting a source nobody calibrated on would get. The worst source is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.reject import Reject

FALSE_NOTHING = 0.01


@dataclass(frozen=True)
class Source:
    """Photos of a model's things seen one way (``photos()`` gives them afresh, the same each time, so that a
    thousand rendered photos need not stay in memory), with their labels' indices where known."""

    photos: Callable[[], Iterable[np.ndarray]]
    labels: Optional[np.ndarray] = None


def threshold_across(similarities: Mapping[str, np.ndarray], false_nothing: float = FALSE_NOTHING) -> float:
    """The similarity that no source has more than ``false_nothing`` of its photos below."""
    return float(min(np.quantile(values, false_nothing) for values in similarities.values()))


def answers_of(classifier: Classifier, source: Source) -> dict[str, float]:
    """How the device answers a source's photos: the share right (when labelled) and the share "nothing"."""
    answers = [classifier.classify_photo(photo) for photo in source.photos()]
    nothing = np.mean([answer.prediction is None for answer in answers])
    measured = {"photos": len(answers), "nothing": round(float(nothing), 4)}
    if source.labels is not None:
        right = [a.prediction is not None and a.prediction.index == t for a, t in zip(answers, source.labels)]
        measured["right"] = round(float(np.mean(right)), 4)
    return measured


def held_out(classifier: Classifier, sources: Mapping[str, Source], similarities: Mapping[str, np.ndarray],
             settings: Callable[[float], Reject], log: Callable[[str], None] = print) -> dict:
    """Each source held out: the threshold from ``similarities`` of every other key (keys without a ``Source``
    only calibrate), ``settings`` of it as the manifest's reject, and the device's answers to the source."""
    manifest = classifier.manifest
    measured = {}
    try:
        for name, source in sources.items():
            threshold = threshold_across({key: values for key, values in similarities.items() if key != name})
            classifier.manifest = replace(manifest, reject=settings(threshold))
            measured[name] = {**answers_of(classifier, source), "threshold": round(threshold, 4)}
            log(f"  held out {name}: threshold {threshold:.3f} from the others; " + _line(measured[name]))
    finally:
        classifier.manifest = manifest
    worst = max(measured, key=lambda name: measured[name]["nothing"])
    return {"worst": worst, "worst_nothing": measured[worst]["nothing"], **measured}


def _line(measured: Mapping[str, float]) -> str:
    right = f"{100 * measured['right']:.1f}% right, " if "right" in measured else ""
    return f"{right}{100 * measured['nothing']:.1f}% nothing in view of {measured['photos']}"
