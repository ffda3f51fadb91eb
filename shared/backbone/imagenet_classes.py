"""What ImageNet knows about a model's classes: which of its 1000 classes the model's photos are.

A model learnt from 2,000 Kaggle pets, or from 20 photos taught on the Pi, has seen a few breeds; the backbone
knows 118 dog breeds, five domestic cats, and that a badger or a llama is neither. So each photo model
keeps the set of ImageNet classes its photos are (``class_set``), and a frame is in view only when the
backbone puts enough of its belief on that set (``class_mass``): a breed the training photos lacked is
still a dog to ImageNet, while an empty room, a bookshelf or a cow puts its belief elsewhere.

The set is found in three steps, per label of the model:

1. every ImageNet class among the top ``TOP`` of at least ``SHARE`` of the label's photos (one photo, for a
   few; five of 1,000); with fewer than ``FEW`` photos, among their top ``TOP_FEW`` (the first 20 cats and
   20 dogs of Kaggle, voting for three classes each, grew into 53 of the 118 breeds; voting for five, all);
2. kept only where ImageNet agrees it is part of a kind: at least ``SUPPORT`` of its ``NEIGHBOURS`` nearest
   classes are in the set too (a cat on a quilt votes for "quilt", which nothing near "quilt" supports);
3. grown through the backbone's own class graph: a class joins when at least ``JOIN`` of its
   ``NEIGHBOURS`` nearest classes are in the set, until none joins (20 dog breeds grow into all 118).

The class graph (``ClassGraph``) is the backbone's final layer seen from its classes: class B is near class
A when their weight vectors point the same way. ``piclassify-train backbone`` writes each class's
``NEIGHBOURS`` nearest into the backbone's description, so the Pi fits with the same graph, no TensorFlow.
NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from piclassify.shared.backbone.row_blocks import by_row_blocks

TOP = 3  # a photo votes for its three likeliest ImageNet classes ...
TOP_FEW = 5  # ... or five, when its label has fewer than FEW photos: a few photos must each say more
FEW = 100
SHARE = 0.005  # of a label's photos that must vote for a class (at least one)
NEIGHBOURS = 10  # nearest classes in the graph
SUPPORT = 2  # a voted class stays when this many of its nearest classes were voted for too
JOIN = 5  # a class joins the set when this many of its nearest classes are in it
SURE_LOSS = 0.05  # of a model's views the sure path may lose by keeping to the photos' likeliest classes


@dataclass(frozen=True)
class ClassGraph:
    """Each ImageNet class's ``NEIGHBOURS`` nearest classes by the backbone's final layer, nearest first."""

    neighbours: np.ndarray  # (classes, NEIGHBOURS) int

    @classmethod
    def from_weights(cls, weights: np.ndarray) -> "ClassGraph":
        """From the final layer's (classes, features) weights: cosine of each pair of class weight vectors."""
        unit = np.asarray(weights, np.float64)
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
        cosine = unit @ unit.T
        np.fill_diagonal(cosine, -np.inf)
        return cls(np.argsort(-cosine, axis=1, kind="stable")[:, :NEIGHBOURS].astype(np.int16))

    @property
    def classes(self) -> int:
        return len(self.neighbours)

    def supported(self, chosen: np.ndarray, count: int) -> np.ndarray:
        """Per class: whether at least ``count`` of its nearest classes are ``chosen`` (a boolean mask)."""
        return chosen[self.neighbours].sum(axis=1) >= count

    def grow(self, chosen: np.ndarray) -> np.ndarray:
        """``chosen`` with every class that has ``JOIN`` of its nearest classes in it, repeated until none joins."""
        chosen = chosen.copy()
        while True:
            joining = self.supported(chosen, JOIN) & ~chosen
            if not joining.any():
                return chosen
            chosen |= joining


def class_set(logits: np.ndarray, photos: np.ndarray, labels: np.ndarray, graph: ClassGraph,
              top_classes: Optional[int] = None) -> np.ndarray:
    """The ImageNet classes a model's photos are, as sorted indices.

    ``logits``: the backbone's ImageNet logits, one row per view of a photo; ``photos``: which photo each row is
    of (a photo's views vote once); ``labels``: each row's label; ``top_classes``: how many of a photo's likeliest
    classes it votes for (by default ``TOP``, or ``TOP_FEW`` for a label of fewer than ``FEW`` photos).
    """
    logits, photos, labels = np.asarray(logits), np.asarray(photos), np.asarray(labels)
    width = top_classes or max(TOP, TOP_FEW)
    order = by_row_blocks(lambda rows: np.argsort(-logits[rows], axis=1, kind="stable")[:, :width], len(logits))
    chosen = np.zeros(graph.classes, bool)
    for label in np.unique(labels):
        rows = labels == label
        count = len(np.unique(photos[rows]))
        top = top_classes or (TOP_FEW if count < FEW else TOP)
        voters = np.unique(np.stack([order[rows, :top].ravel(), np.repeat(photos[rows], top)]), axis=1)[0]
        voted = np.bincount(voters, minlength=graph.classes) >= max(1, int(np.ceil(SHARE * count)))
        chosen |= voted & graph.supported(voted, SUPPORT)
    return np.flatnonzero(graph.grow(chosen))


def sure_set(logits: np.ndarray, photos: np.ndarray, labels: np.ndarray, graph: ClassGraph, known: np.ndarray,
             views: np.ndarray, sure: float) -> np.ndarray:
    """The classes on which enough belief (``sure``) puts a frame in view however it looks: those the photos most
    likely are (each photo's likeliest class only), unless that loses the model's own views.

    A cat that looks like a ferret to ImageNet votes "ferret" among its three likeliest, and a ferret should not
    be a sure pet: of Kaggle's 2,000 cats and dogs, the likeliest classes are the 118 dog breeds, the five cats,
    a lynx, a dingo and an Angora rabbit. Twenty photos cannot say so much (a breed each, too few to grow into the
    others): when the likeliest classes alone leave more than ``SURE_LOSS`` more of the model's ``views`` short of
    ``sure`` than ``known`` does, the sure classes are ``known`` (Kaggle's: 86.9% of the views sure on the
    likeliest classes, 89.7% on all; 20 cats and 20 dogs: 43-55% against 83-89%).
    """
    likeliest = class_set(logits, photos, labels, graph, top_classes=1)
    if len(likeliest) == 0:  # photos ImageNet has no class for (drawn shapes): none is likeliest often enough
        return known
    sure_views = np.mean(class_mass(views, likeliest) >= sure)
    return likeliest if sure_views >= np.mean(class_mass(views, known) >= sure) - SURE_LOSS else known


def class_mass(logits: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(N, 1000) ImageNet logits -> (N,) the backbone's probability that each frame is one of ``classes``."""
    logits = np.asarray(logits)

    def mass(rows: slice) -> np.ndarray:
        block = np.asarray(logits[rows], np.float64)
        shifted = np.exp(block - block.max(axis=1, keepdims=True))
        return shifted[:, classes].sum(axis=1) / shifted.sum(axis=1)
    return by_row_blocks(mass, len(logits))
