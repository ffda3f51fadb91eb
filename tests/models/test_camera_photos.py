"""The bundled digits model on camera-like photos: real MNIST test digits printed dark on unevenly lit paper."""

import numpy as np
import pytest

from piclassify.device.core.pipeline import Pipeline
from piclassify.trainer.data.photos import render_photo

from conftest import classify_photo


@pytest.mark.dataset
def test_digits_model_reads_rendered_photos(mnist_test):
    images, labels = mnist_test
    rng = np.random.default_rng(2024)
    pipeline = Pipeline.load("digits")
    chosen = rng.choice(len(images), 200, replace=False)
    correct = sum(classify_photo(pipeline, render_photo(images[i], rng)).index == labels[i] for i in chosen)
    assert correct / 200 >= 0.95, f"{correct}/200 rendered photos classified correctly"
