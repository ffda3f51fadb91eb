"""The bundled cats-vs-dogs model on real photos, through every kind of source.

It is a head on the ImageNet backbone: cats or dogs from the backbone's features, and "nothing in view" for
a frame unlike every training photo, which no list of negatives taught it.
"""

import sys

import numpy as np
import pytest

from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sources.picamera import Picamera2Source
from piclassify.shared.files.imagefile import read_image

from tests.conftest import classify_photo, require_dataset
from tests.helpers import picamera2_standin


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.load("catsdogs")


def test_the_contract_cats_and_dogs_from_the_backbone_s_features(pipeline):
    manifest = pipeline.manifest
    assert manifest.task == "multiclass" and manifest.labels == ("cats", "dogs")
    assert manifest.is_all_head and manifest.backbone.size == 192 and manifest.reject.background_label is None
    assert manifest.metrics["test_images"] == 1000 and manifest.metrics["tflite_accuracy"] >= 0.97


def test_the_bundled_pet_photos_are_named_and_the_empty_scenes_are_nothing(pipeline):
    """Photos nobody trained on, from other collections (README says whose and under which licence)."""
    for path in sorted(SAMPLES_DIR.glob("catsdogs-*.jpg")):
        result = classify_photo(pipeline, read_image(path))
        assert result.label == path.stem.split("-")[2] + "s", path.name
    for path in sorted(SAMPLES_DIR.glob("nothing-*.jpg")):
        assert classify_photo(pipeline, read_image(path)).label is None


@pytest.mark.dataset
def test_validation_accuracy_is_what_the_manifest_says(pipeline):
    """Every validation photo read and framed by the device code gives the manifest's number ("nothing" is wrong)."""
    validation = require_dataset("cats_and_dogs_filtered", "validation")
    correct = total = 0
    for index, label in enumerate(("cats", "dogs")):
        for path in sorted((validation / label).glob("*.jpg")):
            correct += classify_photo(pipeline, read_image(path)).index == index
            total += 1
    assert total == 1000
    assert correct / total == pytest.approx(pipeline.manifest.metrics["tflite_accuracy"], abs=1e-4)


@pytest.mark.dataset
def test_things_that_are_not_pets_are_nothing_in_view_kind_by_kind(pipeline):
    """Every kind of negative (none was learnt from): at least 90% of each answered "nothing"."""
    negatives = require_dataset("negatives")
    for kind in sorted(p for p in negatives.iterdir() if p.is_dir()):
        photos = sorted(kind.glob("*.jpg"))[::3]
        nothing = sum(classify_photo(pipeline, read_image(p)).label is None for p in photos)
        assert nothing >= 0.9 * len(photos), f"{kind.name}: {nothing} of {len(photos)}"


def test_the_pi_camera_bgr_layout_gives_the_same_answer_as_the_file(pipeline, monkeypatch):
    photo = read_image(SAMPLES_DIR / "catsdogs-2-dog.jpg")
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(photo))
    height, width = photo.shape[:2]
    with Picamera2Source((width, height), fmt="RGB888") as camera:
        frame = next(camera)
    np.testing.assert_array_equal(frame.rgb, photo)  # B, G, R in memory, turned back into the file's R, G, B
    from_camera, from_file = pipeline.classify(frame), classify_photo(pipeline, photo)
    assert from_camera.label == from_file.label == "dogs"
    np.testing.assert_allclose(from_camera.prediction.probabilities, from_file.prediction.probabilities, atol=0.02)
