"""EfficientNet-Lite0 rebuilt in Keras from the PyTorch file: proved on real photos, not trusted.

The weights are right only if the network is built exactly as they were trained (padding, BatchNorm
epsilon, ReLU6, input scaling); a mistake anywhere still gives a network that runs. So: every tensor
of the file is used; the first BatchNorm's running statistics match what real photos produce with the
input scaling we use (and not with ImageNet's mean/std); ImageNet's own top-1 puts the cats and dogs in
its cat and dog classes; and the bundled int8 file agrees with the float network.
"""

import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE, FeatureExtractor, load_description
from piclassify.shared.contract.manifest import Scaling
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.files.imagefile import read_image
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.shared.inference.runtime import load_runtime
from piclassify.trainer.backbone.build import pet_share

from tests.conftest import require_dataset

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def network():
    from piclassify.trainer.backbone.efficientnet_lite import build_efficientnet_lite0, load_imagenet_weights

    model = build_efficientnet_lite0()
    load_imagenet_weights(model)  # refuses a file with tensors the network does not use
    return model


@pytest.fixture(scope="module")
def photos():
    """100 cats and dogs and 100 other things, framed as the device frames them for the backbone."""
    pets = sorted(require_dataset("cats_and_dogs_filtered", "validation").glob("*/*.jpg"))[::10]
    others = sorted(require_dataset("negatives").glob("*/*.jpg"))[::14][:100]
    return np.stack([frame_rgb(read_image(p), 224, 224, "centre-crop") for p in pets + others]), len(pets)


def test_centred_scaling_is_efficientnet_lite_s_input():
    pixels = np.array([0, 127, 255], np.uint8)
    np.testing.assert_array_equal(scale_pixels(pixels, Scaling("centred")), [-127 / 128, 0.0, 1.0])


def test_the_network_has_efficientnet_lite0_s_shape(network):
    assert network.count_params() == 4_694_024  # 3.4 M in the blocks, 1.3 M in the ImageNet head
    assert [tuple(o.shape) for o in network.outputs] == [(None, 1280), (None, 1000)]


def test_the_first_batchnorm_s_statistics_fit_real_photos_scaled_as_we_scale_them(network, photos):
    """The running mean and variance of ``_bn0`` are what the stem convolution gave on ImageNet's photos: with
    (x - 127) / 128 our photos land there; ImageNet's mean/std scaling makes them about twice too large."""
    import keras

    images, _ = photos
    stem = keras.Model(network.input, network.get_layer("_conv_stem").output)
    _, _, mean, variance = network.get_layer("_bn0").get_weights()
    live = variance > 1e-6

    def fit(scaled):
        activations = stem.predict(scaled.astype(np.float32), verbose=0).reshape(-1, 32)[:, live]
        ratio = np.median(activations.var(axis=0) / variance[live])
        offset = np.median(np.abs(activations.mean(axis=0) - mean[live]) / np.sqrt(variance[live]))
        return ratio, offset

    ratio, offset = fit(scale_pixels(images, Scaling("centred")))
    assert 0.5 <= ratio <= 1.5 and offset < 0.15
    imagenet_ratio, _ = fit((images / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225])
    assert imagenet_ratio > 2.5


def test_imagenet_top1_puts_the_cats_and_dogs_in_its_cat_and_dog_classes(network, photos):
    images, pets = photos
    _, logits = network.predict(scale_pixels(images[:pets], Scaling("centred")), verbose=0, batch_size=25)
    assert pet_share(logits) >= 0.90
    _, other_logits = network.predict(scale_pixels(images[pets:], Scaling("centred")), verbose=0, batch_size=25)
    assert pet_share(other_logits) <= 0.10


def test_the_bundled_int8_backbone_agrees_with_the_float_network(network, photos):
    images, _ = photos
    backbone = MODELS_DIR / BACKBONE_FILE
    extractor = FeatureExtractor(MODELS_DIR, load_description(backbone), load_runtime())
    int8 = [extractor.extract(image) for image in images]
    features, logits = network.predict(scale_pixels(images, Scaling("centred")), verbose=0, batch_size=25)
    int8_features, int8_logits = np.stack([f for f, _ in int8]), np.stack([logits for _, logits in int8])
    cosine = np.sum(features * int8_features, axis=1) / (
        np.linalg.norm(features, axis=1) * np.linalg.norm(int8_features, axis=1))
    assert np.median(cosine) >= 0.98
    assert np.mean(logits.argmax(axis=1) == int8_logits.argmax(axis=1)) >= 0.85
