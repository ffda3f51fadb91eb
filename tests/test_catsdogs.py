"""The bundled cats-vs-dogs model on real validation photos, through every kind of source."""

import sys

import numpy as np
import pytest

from piclassify.device.bundled import MODELS_DIR
from piclassify.device.pipeline import Pipeline
from piclassify.device.sources.picamera import Picamera2Source
from piclassify.shared.imagefile import read_image
from tests import picamera2_standin
from tests.conftest import classify_photo, require_dataset

pytestmark = [pytest.mark.dataset, pytest.mark.skipif(not (MODELS_DIR / "catsdogs.tflite").is_file(),
                                                      reason="catsdogs model not bundled")]


@pytest.fixture(scope="module")
def validation():
    return require_dataset("cats_and_dogs_filtered", "validation")


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.load("catsdogs")


def test_the_contract_cats_dogs_and_a_background_class_for_nothing_in_view(pipeline):
    manifest = pipeline.manifest
    assert manifest.task == "multiclass" and manifest.labels == ("cats", "dogs", "nothing")
    assert manifest.reject.background_label == "nothing" and manifest.colour == "rgb"
    assert manifest.metrics["test_images"] == 1000


def test_validation_accuracy_is_what_the_manifest_says(pipeline, validation):
    """Every validation photo read and framed by the device code gives the manifest's number."""
    correct = total = 0
    for index, label in enumerate(("cats", "dogs")):
        for path in sorted((validation / label).glob("*.jpg")):
            correct += classify_photo(pipeline, read_image(path)).index == index
            total += 1
    assert total == 1000
    assert correct / total == pytest.approx(pipeline.manifest.metrics["tflite_accuracy"], abs=1e-4)


def test_the_pi_camera_bgr_layout_gives_the_same_answer_as_the_file(pipeline, validation, monkeypatch):
    photo = read_image(validation / "dogs" / "dog.2001.jpg")
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(photo))
    height, width = photo.shape[:2]
    with Picamera2Source((width, height), fmt="RGB888") as camera:
        frame = next(camera)
    np.testing.assert_array_equal(frame.rgb, photo)  # B, G, R in memory, turned back into the file's R, G, B
    from_camera, from_file = pipeline.classify(frame), classify_photo(pipeline, photo)
    assert from_camera.label == from_file.label
    np.testing.assert_allclose(from_camera.prediction.probabilities, from_file.prediction.probabilities, atol=0.02)
