"""What a model learns on top of the ImageNet backbone, and how it answers: NumPy, on both sides.

A head is a ``.npz`` file of plain arrays (read with ``allow_pickle=False``):

- ``bank``: the backbone's view (its 1000 ImageNet logits, L2-normalised, as int8 x 127) of the photos
  the model learnt from. A frame is "in view" when it looks, to the backbone, like some of them: its
  similarity is the mean cosine to its ``neighbours`` nearest photos in the bank. Logits rather than
  features, because they carry ImageNet's distinctions (a raccoon is not a dog) that a user's few
  photos cannot teach. The threshold (``reject.min_similarity``) is calibrated on the photos themselves,
  each left out in turn: no list of negatives is needed, so it holds for things nobody thought of.
- ``weights``, ``bias`` (a head that classifies): softmax regression over the backbone's features,
  standardisation folded in.
- ``imagenet_classes`` (a photo model): which of ImageNet's classes its photos are
  (``shared.backbone.imagenet_classes``), on which a frame must have enough of the backbone's belief
  (``shared.backbone.gate``); ``sure_classes``, those on which enough belief is in view however the frame looks.

The trainer (``piclassify-train folder``) and the Pi (``piclassify teach``) fit heads with the same code; the file
is read back by ``head_file``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Optional

import numpy as np

from piclassify.shared.backbone.row_blocks import by_row_blocks
from piclassify.shared.errors import ManifestError

BANK_SCALE = 127.0
MAX_BANK = 4000  # photos kept to compare with: a frame costs one (bank x 1000) product
FALSE_NOTHING = 0.01  # the share of a model's own (left-out) photos the calibrated threshold calls "nothing"
# A frame needs at least this much of the backbone's belief on a photo model's ImageNet classes: an empty room or a
# wall puts 1-3% there, a pet most of it. A model whose own photos get little of it (a door open or shut: things
# ImageNet hardly knows) needs less: half of what a tenth of its views get (an odd photo or two cannot lower it).
MIN_CLASS_MASS = 0.1
# ... and a frame with at least this much is in view however unlike the model's photos it looks: ImageNet is
# sure it is one of the model's things (a dog of a breed the training photos lack).
SURE_CLASS_MASS = 0.7
# With the class mass to guard it, the similarity threshold of a photo model lets through more of its own photos:
# the similarity that 0.5% of them fall below (in a check that held out one group of breeds at a time, the
# held-out breeds were turned away 2.1% of the time at 0.5%, 4.3% at 1%; see docs/nothing-in-view.md).
GUARDED_FALSE_NOTHING = 0.005


@dataclass(frozen=True)
class HeadArrays:
    """A loaded head: the bank (float32, rows of norm ~1) and, for a head that classifies, its linear layer."""

    bank: np.ndarray
    weights: Optional[np.ndarray] = None  # (features, classes)
    bias: Optional[np.ndarray] = None  # (classes,)
    imagenet_classes: Optional[np.ndarray] = None  # sorted ImageNet class indices
    sure_classes: Optional[np.ndarray] = None  # the same, for the sure path (``imagenet_classes`` without them)

    def similarity(self, logits: np.ndarray, neighbours: int) -> np.ndarray:
        """(N, 1000) logits -> (N,) mean cosine similarity to the ``neighbours`` nearest photos of the bank."""
        return nearest_similarity(self.bank, normalise(logits), neighbours)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(N, features) -> (N, classes) class logits (softmax is the shared contract's step)."""
        if self.weights is None or self.bias is None:
            raise ManifestError("this head does not classify: it only judges what is in view")
        return np.asarray(features, dtype=np.float32) @ self.weights + self.bias


def normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), np.float32(1e-12))


def nearest_similarity(bank: np.ndarray, queries: np.ndarray, neighbours: int,
                       exclude_self: bool = False) -> np.ndarray:
    """Mean of the ``neighbours`` highest cosine similarities of each (normalised) query to the bank's rows.

    ``exclude_self``: the queries are the bank itself, and each row's similarity to itself is left out. A block of
    queries at a time (``by_row_blocks``): a 4,000-photo bank compared with itself was two 64 MB matrices at once.
    """
    k = min(neighbours, len(bank) - (1 if exclude_self else 0))

    def nearest(rows: slice) -> np.ndarray:
        similarities = queries[rows] @ bank.T
        if exclude_self:
            similarities[np.arange(len(similarities)), np.arange(rows.start, rows.stop)] = -np.inf
        return np.partition(similarities, similarities.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    return by_row_blocks(nearest, len(queries))


def quantize_bank(logits: np.ndarray) -> np.ndarray:
    """Normalised logit rows as int8 (x 127): a 2,000-photo bank is 2 MB, and 1/127 is ample for a cosine."""
    return np.clip(np.rint(normalise(logits) * BANK_SCALE), -127, 127).astype(np.int8)


def dequantize_bank(bank: np.ndarray) -> np.ndarray:
    """The int8 rows as float32 rows of norm 1, in one array: a 2,000-photo bank is 8 MB, not three times that.

    The rows are a view of a C-ordered (1000, rows) array, so a frame's ``logits @ bank.T`` streams it
    in memory order: 20-25% faster than row by row, right after the backbone has filled the caches.
    """
    columns = bank.T.astype(np.float32, order="C")
    norms = np.sqrt(np.einsum("ij,ij->j", columns, columns))  # no full-size temporary, as linalg.norm would make
    columns /= np.maximum(norms, np.float32(1e-12))
    return columns.T


def neighbours_for(photos: int) -> int:
    """How many nearest photos a frame is compared with: 10 for a large bank, fewer for a few examples."""
    return int(min(10, max(1, photos // 20)))


def calibrate_min_similarity(bank: np.ndarray, neighbours: int, false_nothing: float = FALSE_NOTHING) -> float:
    """The similarity below which ``false_nothing`` of the bank's own photos fall, each compared with the others.

    ``bank`` is the dequantized int8 bank the device will use, so the threshold is measured as the Pi computes it.
    """
    if len(bank) < 2:
        raise ValueError("at least two photos are needed to calibrate nothing in view")
    scores = nearest_similarity(bank, bank, neighbours, exclude_self=True)
    return float(np.clip(np.quantile(scores, false_nothing), 0.0, 1.0))


def calibrate_min_class_mass(masses: np.ndarray) -> float:
    """``MIN_CLASS_MASS``, or half the belief that a tenth of a model's own views have less than, if that is less."""
    return float(min(MIN_CLASS_MASS, 0.5 * np.quantile(np.asarray(masses, np.float64), 0.1)))


L2_CHOICES = (1e-3, 1e-2, 1e-1)  # weight decay, chosen per model by cross-validation
FOLDS = 3
STEPS = 200  # Adam steps of every fit, the cross-validation's too: they judge the very procedure the head is made by


@dataclass(frozen=True)
class LinearFit:
    """Softmax regression with its standardisation folded in, the weight decay cross-validation chose, and the
    accuracy it measured on photos left out (each photo with its jittered copies, so no copy is judged by itself)."""

    weights: np.ndarray
    bias: np.ndarray
    l2: float
    cross_validated_accuracy: float


def fit_linear(features: np.ndarray, labels: np.ndarray, classes: int, groups: Optional[np.ndarray] = None,
               seed: int = 1) -> LinearFit:
    """Softmax regression on standardised features, classes weighted equally however many photos each has.

    ``groups`` names the photo each row came from (jittered copies share it); the weight decay is chosen by
    ``FOLDS``-fold cross-validation over photos. Convex: the same photos give the same head.
    """
    x = np.asarray(features, dtype=np.float32)  # float32: twice the speed of float64, and ample for this fit
    labels = np.asarray(labels, dtype=np.int64)
    groups = np.arange(len(x)) if groups is None else np.asarray(groups)
    photos = np.unique(groups)
    fold_of = dict(zip(photos, np.random.default_rng(seed).permutation(len(photos)) % FOLDS))
    folds = np.array([fold_of[g] for g in groups])
    right = np.zeros(len(L2_CHOICES))
    for fold in range(min(FOLDS, len(photos))):
        train, held = folds != fold, folds == fold
        if not held.any() or len(np.unique(labels[train])) < 2:
            continue
        for choice, (weights, bias) in enumerate(_fit(x[train], labels[train], classes, L2_CHOICES, STEPS)):
            right[choice] += int(np.sum((x[held] @ weights + bias).argmax(axis=1) == labels[held]))
    scores = dict(zip(L2_CHOICES, right / len(x)))
    l2 = max(L2_CHOICES, key=lambda value: (scores[value], value))  # ties: the stronger decay
    weights, bias = _fit(x.copy(), labels, classes, (l2,), STEPS)[0]
    return LinearFit(weights.astype(np.float32), bias.astype(np.float32), l2, round(float(scores[l2]), 5))


def _fit(x: np.ndarray, labels: np.ndarray, classes: int, l2s: tuple[float, ...],
         steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Full-batch Adam on standardised ``x`` (standardised in place: pass a copy), one fit per weight decay in
    ``l2s``, side by side: every step reads ``x`` once for all of them (the products are memory-bound, so three fits
    cost little more than one). Returns weights and bias for the raw features, per weight decay.

    The big products run in float32; the weights and Adam's moments are float64, where its ever smaller second
    moments stay clear of float32's subnormal numbers (which made each step five times slower).
    """
    mean, scale = x.mean(axis=0), x.std(axis=0) + np.float32(1e-6)
    x -= mean  # in place: ``x`` is the caller's copy, and a second (rows x features) array would double the memory
    x /= scale
    fits = len(l2s)
    targets = np.eye(classes)[labels][:, np.newaxis, :]
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    row_weight = (len(labels) / (np.count_nonzero(counts) * counts[labels]))[:, np.newaxis, np.newaxis]
    decay = np.repeat(np.asarray(l2s, dtype=np.float64), classes)  # per column of the side-by-side weights
    weights, bias = np.zeros((x.shape[1], fits * classes)), np.zeros(fits * classes)
    moments = ((np.zeros_like(weights), np.zeros_like(weights)), (np.zeros_like(bias), np.zeros_like(bias)))
    rate, beta1, beta2 = 5e-3, 0.9, 0.999
    for step in range(1, steps + 1):
        logits = (x @ weights.astype(np.float32) + bias).reshape(len(x), fits, classes)
        logits -= logits.max(axis=2, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=2, keepdims=True)
        error = ((probabilities - targets) * row_weight / len(x)).reshape(len(x), fits * classes).astype(np.float32)
        for parameter, gradient, (first, second) in ((weights, x.T @ error + decay * weights, moments[0]),
                                                     (bias, error.sum(axis=0), moments[1])):
            first *= beta1
            first += (1 - beta1) * gradient
            second *= beta2
            second += (1 - beta2) * gradient * gradient
            parameter -= rate * (first / (1 - beta1 ** step)) / (np.sqrt(second / (1 - beta2 ** step)) + 1e-8)
    return [(weights[:, n * classes:(n + 1) * classes] / scale[:, np.newaxis],
             bias[n * classes:(n + 1) * classes] - mean / scale @ weights[:, n * classes:(n + 1) * classes])
            for n in range(fits)]


def head_bytes(bank: np.ndarray, weights: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None,
               imagenet_classes: Optional[np.ndarray] = None, sure_classes: Optional[np.ndarray] = None) -> bytes:
    """The ``.npz`` file's bytes: ``bank`` as ``quantize_bank`` made it, the linear layer and the ImageNet classes
    if any."""
    arrays: dict[str, np.ndarray] = {"bank": bank}
    if weights is not None and bias is not None:
        arrays.update(weights=weights.astype(np.float32), bias=bias.astype(np.float32))
    if imagenet_classes is not None:
        arrays.update(imagenet_classes=np.asarray(imagenet_classes, np.int16))
    if sure_classes is not None:
        arrays.update(sure_classes=np.asarray(sure_classes, np.int16))
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


@dataclass(frozen=True)
class FittedHead:
    """A head ready to write: the file's bytes and the settings its manifest records."""

    data: bytes
    neighbours: int
    min_similarity: float
    bank_photos: int
    linear: Optional[LinearFit] = None
    imagenet_classes: Optional[np.ndarray] = None
    min_class_mass: float = 0.0
    sure_classes: Optional[np.ndarray] = None


def build_head(logits: np.ndarray, features: Optional[np.ndarray] = None, labels: Optional[np.ndarray] = None,
               classes: int = 0, groups: Optional[np.ndarray] = None, seed: int = 1,
               false_nothing: float = FALSE_NOTHING, imagenet_classes: Optional[np.ndarray] = None,
               min_class_mass: float = 0.0, sure_classes: Optional[np.ndarray] = None) -> FittedHead:
    """A head from the backbone's view of a model's photos: the bank (one row of ``logits`` per photo, at most
    ``MAX_BANK`` drawn with ``seed``) and its threshold, calibrated so that ``false_nothing`` of the photos fall
    below it; with ``features``/``labels`` (any number of rows: jittered copies welcome, ``groups`` saying which
    photo each is of) also the linear classifier over ``classes``; ``imagenet_classes``, their
    ``min_class_mass`` and ``sure_classes`` go into the head file and its manifest as they are."""
    logits = np.asarray(logits)
    if len(logits) > MAX_BANK:
        logits = logits[np.sort(np.random.default_rng(seed).permutation(len(logits))[:MAX_BANK])]
    bank = quantize_bank(logits)
    neighbours = neighbours_for(len(bank))
    threshold = calibrate_min_similarity(dequantize_bank(bank), neighbours, false_nothing)
    linear = None
    if features is not None and labels is not None:
        linear = fit_linear(features, labels, classes, groups, seed)
    data = head_bytes(bank, linear.weights if linear else None, linear.bias if linear else None, imagenet_classes,
                      sure_classes)
    return FittedHead(data, neighbours, threshold, len(bank), linear, imagenet_classes, min_class_mass, sure_classes)

