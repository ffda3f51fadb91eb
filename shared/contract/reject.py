"""When a frame's answer is "nothing in view" rather than a label: the manifest's ``reject`` section.

The trainer (or ``piclassify teach``) sets these and measures them; the device applies them: the framing's
settings in ``shared.framing``, the backbone's in ``shared.backbone.gate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Reject:
    """Every setting that can make an answer "nothing in view"; a manifest without a section gets these defaults.

    **The framing** (models framed by ``object``/``object-fill``): an object must stand out from the background
    by ``min_contrast`` grey levels at its strongest, by ``min_separation`` on average over its pixels (texture
    and sensor noise do not), and span at least ``min_size`` of the frame's shorter side; with
    ``border_is_background``, pieces touching the frame's edge are background (a table beyond the paper's edge,
    a shadow). ``garment`` framing reads ``min_separation`` as the colour step across the garment's outline.

    **The model's own output**: ``background_label`` is a class trained on empty scenes and negatives, which
    answers only above ``background_threshold`` (at least 0.5: more likely than all the other classes
    together); a winning probability below ``min_score`` is not an answer either.

    **The ImageNet backbone** (models with a head, ``shared.backbone.gate``): a frame is in view when it looks
    like the photos the model learnt from (``min_similarity``), or nearly so (``floor_similarity``) while the
    model's network is sure (``sure_score``); and, for a model that knows its ImageNet classes, only when the
    backbone puts at least ``min_class_mass`` of its belief on them, and always when at least
    ``sure_class_mass``. ``min_imagenet_logit`` is the older gate of models taught from a few photos (the
    backbone's strongest logit), still honoured in their manifests.
    """

    min_contrast: float = 24.0
    min_separation: float = 0.0
    min_size: float = 0.0
    border_is_background: bool = False
    background_label: Optional[str] = None
    min_score: float = 0.0
    background_threshold: float = 0.5
    min_similarity: float = 0.0
    floor_similarity: Optional[float] = None
    sure_score: Optional[float] = None
    min_class_mass: float = 0.0
    sure_class_mass: Optional[float] = None
    min_imagenet_logit: Optional[float] = None


def reject_problem(reject: Reject, on_backbone: bool, with_head: bool = True) -> str:
    """Why a ``reject`` section cannot be applied as it is (its settings contradict each other, or need a backbone or
    a head the model lacks), or ``""``. A model on the backbone without a head (an imported model given no photos)
    can only use ``min_imagenet_logit``: the similarity and the class mass compare a frame with the model's photos."""
    if (reject.floor_similarity is None) != (reject.sure_score is None):
        return "reject.floor_similarity and reject.sure_score go together: give both or neither"
    if reject.floor_similarity is not None and reject.floor_similarity > reject.min_similarity:
        return "reject.floor_similarity must not be above reject.min_similarity"
    if reject.sure_class_mass is not None and reject.sure_class_mass < reject.min_class_mass:
        return "reject.sure_class_mass must not be below reject.min_class_mass"
    uses_backbone = (reject.min_class_mass > 0 or reject.sure_class_mass is not None
                     or reject.floor_similarity is not None or reject.min_imagenet_logit is not None)
    if uses_backbone and not on_backbone:
        return "the backbone's reject settings need a backbone and a head section"
    uses_head = (reject.min_class_mass > 0 or reject.sure_class_mass is not None
                 or reject.floor_similarity is not None or reject.min_similarity > 0)
    if on_backbone and uses_head and not with_head:
        return "the similarity and class-mass settings compare with the model's photos: they need a head section"
    return ""
