"""Which ImageNet classes a model's photos are (shared/backbone/imagenet_classes.py), on a small world of classes.

The world: 36 classes in three kinds of 12 (a kind's weight vectors point the same way), as dog breeds do in the
backbone's final layer. Photos vote for their likeliest classes; a vote ImageNet's graph does not support is
noise; a kind most of whose classes are voted for joins whole.
"""

import numpy as np
import pytest

from piclassify.shared.backbone.imagenet_classes import NEIGHBOURS, ClassGraph, class_mass, class_set, sure_set
from piclassify.shared.backbone.photo_head import Views, head_from_views

KINDS, PER_KIND, FEATURES = 3, 12, 64


@pytest.fixture(scope="module")
def graph() -> ClassGraph:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(KINDS, FEATURES)) * 3
    weights = np.repeat(centres, PER_KIND, axis=0) + rng.normal(size=(KINDS * PER_KIND, FEATURES))
    return ClassGraph.from_weights(weights)


def photos_voting_for(*likeliest: tuple[int, int, int]) -> np.ndarray:
    """One row of logits per photo, its three likeliest classes the given ones, the rest far below."""
    logits = np.full((len(likeliest), KINDS * PER_KIND), -20.0)
    for row, classes in enumerate(likeliest):
        logits[row, list(classes)] = [10.0, 9.0, 8.0]
    return logits


def test_a_class_s_nearest_classes_are_of_its_own_kind(graph):
    assert graph.neighbours.shape == (KINDS * PER_KIND, NEIGHBOURS)
    kinds = graph.neighbours // PER_KIND
    assert np.all(kinds == (np.arange(KINDS * PER_KIND) // PER_KIND)[:, None])


def test_a_kind_most_of_whose_classes_the_photos_are_joins_whole(graph):
    """Nine breeds among the photos: ImageNet's graph says the other three are breeds too."""
    logits = photos_voting_for((0, 1, 2), (3, 4, 5), (6, 7, 8))
    assert class_set(logits, np.arange(3), np.zeros(3, int), graph, 3).tolist() == list(range(PER_KIND))


def test_a_vote_no_neighbour_supports_is_left_out(graph):
    """A cat photographed on a quilt also votes for "quilt"; nothing near "quilt" was voted for."""
    logits = photos_voting_for((0, 1, 2), (3, 4, 5), (6, 7, 8), (30, 18, 6))
    chosen = class_set(logits, np.arange(4), np.zeros(4, int), graph, 3).tolist()
    assert chosen == list(range(PER_KIND))  # 30 and 18 stand alone in their kinds


def test_among_many_photos_a_class_needs_more_than_a_few_votes(graph):
    """Of 1,000 photos, four that also look like something else are not that something (0.5% is five)."""
    logits = photos_voting_for(*[(0, 1, 2), (2, 3, 4)] * 492, *[(12, 13, 14)] * 4, *[(24, 25, 26), (26, 27, 28)] * 6)
    chosen = set(class_set(logits, np.arange(1000), np.zeros(1000, int), graph).tolist())
    assert {0, 1, 2, 3, 4, 24, 25, 26, 27, 28} <= chosen and not chosen & {12, 13, 14}


def test_a_few_photos_each_vote_for_their_five_likeliest_classes(graph):
    """Two dogs of few breeds each are too few to grow into their kind from three votes; five say more."""
    logits = np.full((2, KINDS * PER_KIND), -20.0)
    logits[0, [0, 1, 2, 6, 7]] = [10.0, 9.0, 8.0, 7.0, 6.0]
    logits[1, [0, 1, 2, 8, 9]] = [10.0, 9.0, 8.0, 7.0, 6.0]
    assert set(class_set(logits, np.arange(2), np.zeros(2, int), graph, 3).tolist()) <= {0, 1, 2}  # no growth
    assert class_set(logits, np.arange(2), np.zeros(2, int), graph).tolist() == list(range(PER_KIND))


def test_class_mass_is_the_softmax_belief_on_the_classes():
    logits = np.log(np.array([[0.5, 0.3, 0.2]]))
    assert class_mass(logits, np.array([0, 2]))[0] == pytest.approx(0.7)



@pytest.fixture(scope="module")
def scattered() -> ClassGraph:
    """1,000 classes of no kind: a few votes among them are almost never each other's nearest."""
    return ClassGraph.from_weights(np.random.default_rng(0).normal(size=(1000, FEATURES)))


def scattered_photos(count: int, seed: int) -> np.ndarray:
    """Logits of ``count`` photos, each with five likeliest classes drawn at random of the 1,000."""
    rng = np.random.default_rng(seed)
    logits = np.full((count, 1000), -20.0)
    for row in logits:
        row[rng.choice(1000, 5, replace=False)] = [10.0, 9.0, 8.0, 7.0, 6.0]
    return logits


def test_the_sure_classes_are_the_likeliest_ones_when_they_keep_the_views_sure(graph):
    """Photos most likely class 0, 1, 2 or 3 (a kind's breeds): sure on those, not on what else they look like."""
    logits = photos_voting_for(*[(0, 5, 6), (1, 7, 8), (2, 9, 10), (3, 11, 4)] * 4)
    known = class_set(logits, np.arange(16), np.zeros(16, int), graph)
    assert len(known) > 3
    frame = np.full((1, KINDS * PER_KIND), -20.0)
    frame[0, 0] = 10.0
    assert sure_set(logits, np.arange(16), np.zeros(16, int), graph, known, frame, 0.7).tolist() == [0, 1, 2, 3]


def test_photos_whose_likeliest_classes_imagenet_does_not_group_are_sure_on_their_known_classes(scattered):
    logits, known = scattered_photos(12, seed=3), np.array([1, 2, 3])
    assert class_set(logits, np.arange(12), np.zeros(12, int), scattered, top_classes=1).size == 0
    assert sure_set(logits, np.arange(12), np.zeros(12, int), scattered, known, logits, 0.7).tolist() == [1, 2, 3]


def test_a_head_from_photos_imagenet_has_no_class_for_guards_by_similarity_alone(scattered):
    """Drawn shapes: no vote is supported by ImageNet's graph, so no class rule, and a head all the same."""
    logits, labels = scattered_photos(4, seed=5), np.array([0, 0, 1, 1])
    assert class_set(logits, np.arange(4), labels, scattered).size == 0
    features = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    plain = Views(features, logits.astype(np.float32))
    jittered = Views(np.repeat(features, 2, axis=0), np.repeat(plain.logits, 2, axis=0))
    head = head_from_views(plain, jittered, labels, 2, graph=scattered)
    assert head.imagenet_classes is None and head.sure_classes is None and head.min_class_mass == 0.0
