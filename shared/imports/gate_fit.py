""""Nothing in view" for an imported model: the bundled backbone's gate, as much of it as the user's photos allow.

- **From examples** (``--examples DIR``, a few photos per label): calibrated exactly as ``piclassify teach``
  calibrates a taught model (``shared.backbone.photo_head``): a frame must look, to the backbone, like some of
  the examples, and put enough of ImageNet's belief on the ImageNet classes they are. Measured on the
  examples themselves, each left out in turn.
- **The backbone alone** (no examples): with no photo of the model's classes there is nothing to compare a
  frame with, and no way to know which ImageNet classes are the model's. What is left is the backbone's own
  certainty that it sees anything at all: a frame whose strongest ImageNet logit is below
  ``BACKBONE_ALONE_LOGIT`` is nothing in view. That turns away about half of empty scenes (a bare wall, an empty
  table) and nothing that is a thing: a face in front of a cats-and-dogs model still gets cat or dog.
- **Off** (``--nothing off``): the model's own answer for every frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from piclassify.shared.backbone.extractor import FeatureExtractor, load_class_graph, load_description
from piclassify.shared.backbone.gate import Evidence, judge
from piclassify.shared.backbone.head import dequantize_bank, nearest_similarity, quantize_bank
from piclassify.shared.backbone.head_model import head_reject
from piclassify.shared.backbone.imagenet_classes import class_mass
from piclassify.shared.backbone.photo_head import VARIANTS, backbone_views, head_from_views
from piclassify.shared.contract.manifest import Backbone, Head
from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import DatasetError
from piclassify.shared.imports.check import LabelledPhotos
from piclassify.shared.inference.runtime import load_runtime
from piclassify.shared.progress import Progress

# Below it, the backbone (at 224) recognises nothing: 1% of 1,015 photos of things (16 kinds of negatives/, pets,
# clothes) fall below it, and 48% of 300 rendered empty scenes (scripts/bench_backbone_alone.py measures both).
BACKBONE_ALONE_LOGIT = 4.97
MIN_EXAMPLES = 2  # per label: the similarity is calibrated on examples left out in turn


@dataclass(frozen=True)
class Gate:
    """The backbone's part of an imported model: its section, the head file's bytes and section (from examples),
    its reject settings, and what it was measured at (``metrics.nothing_in_view``)."""

    kind: str  # "examples", "backbone alone" or "off"
    reject: Reject = Reject()
    backbone: Optional[Backbone] = None
    head: Optional[Head] = None
    head_data: bytes = b""
    measured: dict[str, Any] = field(default_factory=dict)


def gate_off() -> Gate:
    return Gate("off", measured={"gate": "off: the model's own answer for every frame"})


def gate_alone(backbone_path: Path) -> Gate:
    return Gate("backbone alone", Reject(min_imagenet_logit=BACKBONE_ALONE_LOGIT), load_description(backbone_path),
                measured={"gate": "the backbone alone (no examples)", "min_imagenet_logit": BACKBONE_ALONE_LOGIT})


def gate_from_examples(backbone_path: Path, examples: LabelledPhotos, labels: tuple[str, ...], name: str,
                       needed: tuple[int, ...], threads: Optional[int], runtime: Optional[str], seed: int,
                       log: Callable[[str], None]) -> Gate:
    """The gate calibrated on ``examples``, as teach calibrates it; each label in ``needed`` must have examples."""
    counts = np.bincount(examples.labels, minlength=len(labels))
    scarce = [labels[index] for index in needed if counts[index] < MIN_EXAMPLES]
    if scarce:
        raise DatasetError(f"{examples.where}: the gate needs at least {MIN_EXAMPLES} examples of each label "
                           f"({', '.join(scarce)[:200]} {'has' if len(scarce) == 1 else 'have'} fewer)")
    description = load_description(backbone_path)
    extractor = FeatureExtractor(backbone_path.parent, description, load_runtime(runtime), threads)
    images = np.stack([extractor.frame(photo) for photo in examples.photos])
    with Progress(f"the backbone on {len(images)} examples and {VARIANTS} jittered copies of each", log,
                  total=len(images) * (1 + VARIANTS)) as progress:
        plain, jittered = backbone_views(extractor, images, VARIANTS, seed, progress.advance)
    fitted = head_from_views(plain, jittered, examples.labels, 0, seed, load_class_graph(backbone_path))
    reject = head_reject(fitted)
    head = Head(file=f"{name}-head.npz", sha256=hashlib.sha256(fitted.data).hexdigest(), classifies=False,
                neighbours=fitted.neighbours)
    turned_away = _left_out_nothing(plain.logits, fitted.imagenet_classes, head.neighbours, reject)
    log(f"nothing in view below similarity {reject.min_similarity:.3f} to the {head.neighbours} nearest of "
        f"{len(images)} examples" + (f", or with less than {100 * reject.min_class_mass:.0f}% of ImageNet's belief "
                                     "on their classes" if fitted.imagenet_classes is not None else "")
        + f"; {100 * turned_away:.1f}% of the examples answered nothing when each is left out")
    measured = {"gate": f"calibrated on {len(images)} examples", "examples": int(len(images)),
                "examples_nothing_left_out": round(turned_away, 4), "examples_set": examples.where}
    return Gate("examples", reject, description, head, fitted.data, measured)


def _left_out_nothing(logits: np.ndarray, known: Optional[np.ndarray], neighbours: int, reject: Reject) -> float:
    """The share of the examples the gate turns away when each is compared with the others only."""
    bank = dequantize_bank(quantize_bank(logits))
    similarity = nearest_similarity(bank, bank, neighbours, exclude_self=True)
    masses = class_mass(logits, known) if known is not None else [None] * len(logits)
    verdicts = [judge(Evidence(float(s), None if m is None else float(m), float(np.max(row))), reject)
                for s, m, row in zip(similarity, masses, logits)]
    return float(np.mean([verdict.reason is not None for verdict in verdicts]))


def with_gate(reject: Reject, gate: Gate) -> Reject:
    """The model's own settings (framing, background label) with the gate's."""
    keys = ("min_similarity", "min_class_mass", "sure_class_mass", "min_imagenet_logit")
    return replace(reject, **{key: getattr(gate.reject, key) for key in keys})
