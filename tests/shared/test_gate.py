"""The gate (shared/backbone/gate.py): one rule weighs what ImageNet sees, how alike a frame is, and how sure the model is.

Read top to bottom, these tests are the rule: too little of ImageNet's belief on the model's classes is nothing in
view however alike; enough of it is in view however unlike; otherwise the frame must look like the model's photos,
or nearly so while the model is sure.
"""

import pytest

from piclassify.shared.backbone.gate import IN_VIEW, Evidence, describe, judge, unsure
from piclassify.shared.contract.reject import Reject, reject_problem

PHOTO_MODEL = Reject(min_similarity=0.4, min_class_mass=0.2, sure_class_mass=0.7)
DIGITS = Reject(min_similarity=0.6, floor_similarity=0.48, sure_score=0.95)


def evidence(similarity: float, mass=None, strongest: float = 10.0) -> Evidence:
    return Evidence(similarity, mass, strongest)


def test_a_frame_like_the_model_s_photos_is_in_view():
    assert judge(evidence(0.5, 0.5), PHOTO_MODEL) == IN_VIEW
    assert judge(evidence(0.6), DIGITS) == IN_VIEW


def test_too_little_belief_on_the_model_s_imagenet_classes_is_nothing_in_view_however_alike():
    """A raccoon can look like a pet photo to the similarity; ImageNet puts its belief elsewhere."""
    verdict = judge(evidence(0.9, 0.05), PHOTO_MODEL)
    assert verdict.reason == "not what the model knows to ImageNet: 5% of its belief on the model's classes < 20%"
    assert not verdict.unless_sure


def test_enough_belief_on_them_is_in_view_however_unlike():
    """A breed the training photos lacked: unlike all of them, and yet a dog to ImageNet."""
    assert judge(evidence(0.1, 0.8), PHOTO_MODEL) == IN_VIEW
    assert judge(evidence(0.1, 0.5), PHOTO_MODEL).reason.startswith("unlike the photos the model learnt from")


def test_nearly_alike_is_in_view_only_when_the_model_is_sure():
    nearly = judge(evidence(0.5), DIGITS)
    assert nearly.unless_sure and nearly.reason == "unlike the photos the model learnt from: similarity 0.50 < 0.60"
    assert unsure(nearly, 0.97, DIGITS) is None
    assert unsure(nearly, 0.6, DIGITS) == f"{nearly.reason}, and the model is not sure (0.60 < 0.95)"
    far = judge(evidence(0.4), DIGITS)
    assert far.reason and not far.unless_sure  # below the floor, no score makes it a digit


def test_a_model_without_imagenet_classes_is_judged_by_its_similarity_alone():
    assert judge(evidence(0.3), Reject(min_similarity=0.4)).reason.startswith("unlike the photos")
    assert judge(evidence(0.4), Reject(min_similarity=0.4)) == IN_VIEW


def test_a_model_taught_before_keeps_its_strongest_logit_gate():
    old = Reject(min_similarity=0.2, min_imagenet_logit=6.0)
    assert judge(evidence(0.9, strongest=5.0), old).reason == (
        "nothing the backbone knows: strongest ImageNet logit 5.0 < 6.0")
    assert judge(evidence(0.9, strongest=7.0), old) == IN_VIEW


def test_info_says_the_rule_in_a_line():
    assert describe(PHOTO_MODEL) == ("nothing in view below similarity 0.400, or with less than 20% of ImageNet's "
                                     "belief on its classes, in view whenever at least 70% is")
    assert describe(DIGITS) == "nothing in view below similarity 0.600, down to 0.480 when the model is 95% sure"


@pytest.mark.parametrize("settings, problem", [
    (dict(min_similarity=0.6, floor_similarity=0.5), "go together"),
    (dict(min_similarity=0.6, floor_similarity=0.7, sure_score=0.9), "must not be above"),
    (dict(min_class_mass=0.3, sure_class_mass=0.2), "must not be below"),
])
def test_settings_that_contradict_each_other_are_refused(settings, problem):
    assert problem in reject_problem(Reject(**settings), on_backbone=True)


def test_the_backbone_s_settings_need_a_backbone():
    assert reject_problem(Reject(min_class_mass=0.2), on_backbone=False).startswith("the backbone's reject settings")
    assert reject_problem(Reject(min_class_mass=0.2), on_backbone=True) == ""
