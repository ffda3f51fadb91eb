"""Nothing in view, from what the backbone sees: one rule for every model, its settings in the manifest.

A camera's photos are never the photos a model learnt from: a digit in another pen, a breed the training
set lacked, a pet in another light. Looking like those photos (similarity) is good evidence, but not the
only one. The rule weighs three (``Reject`` holds the settings, the trainer or ``teach`` calibrates them):

1. **What ImageNet sees** (photo models, which know their ImageNet classes: ``shared.backbone.imagenet_classes``).
   Less than ``min_class_mass`` of the backbone's belief on the model's classes is nothing in view, however
   alike the frame looks (a raccoon is not a cat to ImageNet, an empty room is no pet at all); at least
   ``sure_class_mass`` is in view, however unlike the training photos it looks (a breed Kaggle lacks).
2. **Like the photos the model learnt from**: similarity at least ``min_similarity``.
3. **Nearly like them, and the model's network is sure**: similarity at least ``floor_similarity`` and the
   answer's score at least ``sure_score`` (a digit on a sticky note, which no rendered sheet resembles, that
   the 28x28 network reads without doubt).

Models taught from a few photos before this rule kept ``min_imagenet_logit`` (the backbone's strongest
logit); it still applies to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

from piclassify.shared.backbone.head import HeadArrays
from piclassify.shared.backbone.imagenet_classes import class_mass
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.reject import Reject


@dataclass(frozen=True)
class Evidence:
    """What the backbone says of one frame: its similarity to the model's photos, the belief it puts on the
    model's ImageNet classes (None for a model that does not know them) and its strongest ImageNet logit."""

    similarity: Optional[float]  # None: the model has no photos to compare with (imported without examples)
    class_mass: Optional[float]
    strongest_logit: float
    sure_mass: Optional[float] = None  # on the model's sure classes, where it has its own (else ``class_mass``)


def weigh(head: HeadArrays, neighbours: int, logits: np.ndarray) -> list[Evidence]:
    """What the backbone's (N, 1000) ImageNet logits say of N frames, for a model's head."""
    similarity = head.similarity(logits, neighbours)

    def masses(classes: Optional[np.ndarray]) -> list[Optional[float]]:
        return [None] * len(logits) if classes is None else [float(m) for m in class_mass(logits, classes)]

    return [Evidence(float(s), mass, float(row.max()), sure) for s, mass, sure, row in
            zip(similarity, masses(head.imagenet_classes), masses(head.sure_classes), logits)]


@dataclass(frozen=True)
class Verdict:
    """The backbone's verdict before the model's own answer: in view (no ``reason``), nothing in view, or
    nothing in view unless the model is sure of its answer (``unless_sure``: its score decides)."""

    reason: Optional[str] = None
    unless_sure: bool = False


IN_VIEW = Verdict()


def judge(evidence: Evidence, reject: Reject) -> Verdict:
    """The rule above, for one frame."""
    mass = evidence.class_mass
    if mass is not None and mass < reject.min_class_mass:
        return Verdict(f"not what the model knows to ImageNet: {100 * mass:.0f}% of its belief on the model's "
                       f"classes < {100 * reject.min_class_mass:.0f}%")
    if reject.min_imagenet_logit is not None and evidence.strongest_logit < reject.min_imagenet_logit:
        return Verdict(f"nothing the backbone knows: strongest ImageNet logit {evidence.strongest_logit:.1f} < "
                       f"{reject.min_imagenet_logit:.1f}")
    sure = evidence.sure_mass if evidence.sure_mass is not None else mass
    if sure is not None and reject.sure_class_mass is not None and sure >= reject.sure_class_mass:
        return IN_VIEW
    if evidence.similarity is None or evidence.similarity >= reject.min_similarity:
        return IN_VIEW
    unlike = (f"unlike the photos the model learnt from: similarity {evidence.similarity:.2f} < "
              f"{reject.min_similarity:.2f}")
    nearly = reject.floor_similarity is not None and evidence.similarity >= reject.floor_similarity
    return Verdict(unlike, unless_sure=nearly)


def unsure(verdict: Verdict, score: float, reject: Reject) -> Optional[str]:
    """Why a frame the backbone found nearly alike is still nothing in view: the model is not sure of it."""
    sure = 1.0 if reject.sure_score is None else reject.sure_score  # with no sure path, nearly is not enough
    if score >= sure:
        return None
    return f"{verdict.reason}, and the model is not sure ({score:.2f} < {sure:.2f})"


def describe(reject: Reject) -> str:
    """The backbone's rule for one model in a line, for ``piclassify info``."""
    parts = [f"nothing in view below similarity {reject.min_similarity:.3f}"]
    if reject.floor_similarity is not None and reject.sure_score is not None:
        parts.append(f"down to {reject.floor_similarity:.3f} when the model is {100 * reject.sure_score:.0f}% sure")
    if reject.min_class_mass > 0:
        parts.append(f"or with less than {100 * reject.min_class_mass:.0f}% of ImageNet's belief on its classes")
    if reject.sure_class_mass is not None:
        parts.append(f"in view whenever at least {100 * reject.sure_class_mass:.0f}% is")
    if reject.min_imagenet_logit is not None:
        parts.append(f"or below a strongest ImageNet logit of {reject.min_imagenet_logit:.2f}")
    return ", ".join(parts)


def gate_summary(manifest: Manifest) -> str:
    """Which gate a model has and, for an imported model, what it was calibrated on: a line for ``piclassify info``."""
    reject = manifest.reject
    if manifest.backbone is None:
        text = "none from the backbone: the model's own answer"
        if manifest.resize in ("object", "object-fill", "garment"):
            text += ", after the framing's checks"
    elif manifest.head is None:
        text = (f"the backbone alone: nothing in view only where it recognises nothing (strongest ImageNet logit "
                f"below {reject.min_imagenet_logit or 0:.2f}: at 4.97, 48% of empty scenes and 1% of photos of "
                "things); with no photos of the model's classes it cannot turn away things that are none of them")
    else:
        text = describe(reject)
    if reject.background_label is not None:
        text += f"; the label {reject.background_label} means nothing in view"
    measured = manifest.metrics.get("nothing_in_view")
    if isinstance(measured, Mapping) and isinstance(measured.get("gate"), str) and manifest.head is not None:
        text = f"{measured['gate']}: {text}"
        left_out = measured.get("examples_nothing_left_out")
        if isinstance(left_out, (int, float)):
            text += f"; {100 * left_out:.1f}% of the examples answered nothing when left out"
    return text
