"""The bundled cats-vs-dogs model on real validation photos, through every kind of source."""

import sys

import numpy as np
import pytest

from piclassify.device.bundled import MODELS_DIR
from piclassify.device.pipeline import Pipeline
from piclassify.device.sources.picamera import Picamera2Source
from piclassify.shared.imagefile import read_image
from tests import picamera2_standin
from tests.conftest import require_dataset

pytestmark = [pytest.mark.dataset, pytest.mark.skipif(not (MODELS_DIR / "catsdogs.tflite").is_file(),
                                                      reason="catsdogs model not bundled")]


@pytest.fixture(scope="module")
def validation():
    return require_dataset("cats_and_dogs_filtered", "validation")


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.load("catsdogs")


def test_binary_contract(pipeline):
    manifest = pipeline.manifest
    assert manifest.task == "binary" and manifest.labels == ("cats", "dogs") and manifest.colour == "rgb"
    assert manifest.metrics["test_images"] == 1000


def test_validation_accuracy_is_what_the_manifest_says(pipeline, validation):
    """Every validation photo read and framed by the device code gives the manifest's number."""
    correct = total = 0
    for index, label in enumerate(pipeline.manifest.labels):
        for path in sorted((validation / label).glob("*.jpg")):
            correct += pipeline.classify_image(read_image(path)).index == index
            total += 1
    assert total == 1000
    assert correct / total == pytest.approx(pipeline.manifest.metrics["tflite_accuracy"], abs=1e-4)


def test_photos_across_the_validation_set_are_mostly_right(pipeline, validation):
    """Every 25th photo of each class: far above chance (50%), as an 85% model should be."""
    photos = [(validation / "cats" / f"cat.{n}.jpg", "cats") for n in range(2000, 2500, 25)]
    photos += [(validation / "dogs" / f"dog.{n}.jpg", "dogs") for n in range(2000, 2500, 25)]
    correct = sum(pipeline.classify_image(read_image(path)).label == label for path, label in photos)
    assert correct >= 30, f"{correct}/40"


def test_the_pi_camera_bgr_layout_gives_the_same_answer_as_the_file(pipeline, validation, monkeypatch):
    photo = read_image(validation / "dogs" / "dog.2001.jpg")
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(photo))
    height, width = photo.shape[:2]
    with Picamera2Source((width, height), fmt="RGB888") as camera:
        frame = next(camera)
    from_camera, from_file = pipeline.classify(frame), pipeline.classify_image(photo)
    assert from_camera.label == from_file.label
    np.testing.assert_allclose(from_camera.probabilities, from_file.probabilities, atol=0.02)
