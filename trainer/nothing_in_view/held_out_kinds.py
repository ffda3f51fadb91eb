"""Hold out one kind of a photo model's own photos at a time: what a camera meeting a breed the photos lacked sees.

A model's photos are grouped by what ImageNet calls each (its likeliest class: a breed, a kind of cat). Every
group of at least ``MIN_GROUP`` photos is left out in turn, the gate is fitted again on the rest exactly as the
model's was (bank, threshold, ImageNet classes and floor: ``head_from_views``), and the group's photos are judged
by the device's rule (``shared.backbone.gate``). The share of them answered "nothing" is the false "nothing" of a
kind the model never saw; the worst group is reported. (Before the ImageNet classes joined the rule, one group
of Kaggle dogs, turned away 12.5% of the time, showed what other collections' breed photos met.)
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from piclassify.shared.backbone.gate import judge, weigh
from piclassify.shared.backbone.head import FittedHead, HeadArrays, calibrate_min_similarity
from piclassify.shared.backbone.head_file import bank_of
from piclassify.shared.backbone.imagenet_classes import ClassGraph
from piclassify.shared.backbone.photo_head import Views, head_from_views
from piclassify.shared.contract.reject import Reject

MIN_GROUP = 20


def held_out_kinds(plain: Views, jittered: Views, labels: np.ndarray, graph: Optional[ClassGraph],
                   reject_of: Callable[[FittedHead], Reject], seed: int = 1,
                   log: Callable[[str], None] = print) -> dict:
    """``{"worst": name, "worst_nothing": rate, name: {"photos", "nothing"}}`` per held-out group of photos."""
    top = plain.logits.argmax(axis=1)
    variants = len(jittered.logits) // max(1, len(labels))
    counts = np.bincount(top, minlength=plain.logits.shape[1])
    measured = {}
    for imagenet_class in np.flatnonzero(counts >= MIN_GROUP):
        keep = top != imagenet_class
        if len(np.unique(labels[keep])) < len(np.unique(labels)):
            continue  # the group is all of a label: nothing would be left to learn it from
        rows = np.repeat(keep, variants)
        fitted = head_from_views(Views(plain.features[keep], plain.logits[keep]),
                                 Views(jittered.features[rows], jittered.logits[rows]), labels[keep], 0, seed, graph)
        reject = reject_of(fitted)
        held = plain.logits[~keep]
        head = HeadArrays(bank_of(fitted.data), imagenet_classes=fitted.imagenet_classes,
                          sure_classes=fitted.sure_classes)
        evidence = weigh(head, fitted.neighbours, held)
        before = calibrate_min_similarity(head.bank, fitted.neighbours)  # the rule before: the similarity alone
        alone = np.mean([e.similarity < before for e in evidence])
        nothing = np.mean([judge(e, reject).reason is not None for e in evidence])
        if not measured:  # a heading only above what there is to show
            log("each kind of the training photos held out (the gate fitted again without it):")
        name = f"ImageNet class {imagenet_class}"
        measured[name] = {"photos": int(len(held)), "nothing": round(float(nothing), 4),
                          "nothing_by_similarity_alone": round(float(alone), 4)}
        log(f"  held out the {len(held)} photos ImageNet calls class {imagenet_class}: {100 * nothing:.1f}% nothing "
            f"in view ({100 * alone:.1f}% by the similarity alone, as before ImageNet's classes)")
    if not measured:
        return {}
    worst = max(measured, key=lambda name: measured[name]["nothing"])
    before = max(measured, key=lambda name: measured[name]["nothing_by_similarity_alone"])
    return {"worst": worst, "worst_nothing": measured[worst]["nothing"],
            "worst_by_similarity_alone": measured[before]["nothing_by_similarity_alone"], **measured}
