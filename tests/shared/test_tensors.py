"""Prepared uint8 images in, predictions out: encoding and decoding by the manifest."""

from dataclasses import replace

import numpy as np
import pytest

from piclassify.shared.contract.manifest import Quantization, TensorSpec
from piclassify.shared.contract.reject import Reject
from piclassify.shared.contract.tensors import (
    InputEncoder,
    decode_output,
    decode_probabilities,
    output_probabilities,
    predicted_indices,
)
from piclassify.shared.errors import ImageError

from tests.helpers.manifests import binary_like, digits_like


def test_encoder_adds_batch_and_channel_and_quantizes():
    image = np.array([[0, 255], [128, 1]], dtype=np.uint8)
    encoder = InputEncoder(digits_like(height=2, width=2,
                                       input=TensorSpec((2, 2, 1), "int8", Quantization(1 / 255, -128))))
    tensor = encoder.encode(image)
    assert tensor.shape == (1, 2, 2, 1) and tensor.dtype == np.int8
    assert tensor[0, :, :, 0].tolist() == [[-128, 127], [0, -127]]


def test_encoder_refuses_wrong_shape_and_dtype():
    encoder = InputEncoder(digits_like())
    with pytest.raises(ImageError, match="does not match model input"):
        encoder.encode(np.zeros((32, 32), dtype=np.uint8))
    with pytest.raises(ImageError, match="uint8"):
        encoder.encode(np.zeros((28, 28), dtype=np.float32))


def test_multiclass_output_is_dequantized_then_softmaxed():
    manifest = digits_like()  # output scale 0.1, zero point 3
    raw = np.array([[3, 13, 3, 3, 3, 3, 3, 3, 3, 3]], dtype=np.int8)  # logits: 0, 1, 0, ...
    prediction = decode_output(raw, manifest)
    expected = np.exp(1) / (np.exp(1) + 9)
    assert prediction.label == "1" and prediction.index == 1
    assert prediction.score == pytest.approx(expected, rel=1e-6)
    assert prediction.probabilities.sum() == pytest.approx(1.0)
    assert prediction.top(2)[0] == ("1", pytest.approx(expected, rel=1e-6))


def test_binary_output_is_a_sigmoid_against_the_manifest_threshold():
    manifest = binary_like(threshold=0.7)
    raw = np.array([[20]], dtype=np.int8)  # logit 20 * 0.05 = 1.0 -> sigmoid 0.731
    prediction = decode_output(raw, manifest)
    assert prediction.label == "dogs" and prediction.score == pytest.approx(0.7310586, rel=1e-6)
    lower = decode_output(np.array([[16]], dtype=np.int8), manifest)  # 0.8 -> 0.690 < 0.7
    assert lower.label == "cats" and lower.score == pytest.approx(1 - 0.6899745, rel=1e-6)


def test_float_logits_from_keras_are_not_dequantized():
    manifest = binary_like(task="multiclass", output=TensorSpec((2,), "int8", Quantization(0.05, 0)))
    probabilities = output_probabilities(np.array([[0.0, 1.0]], dtype=np.float32), manifest)
    np.testing.assert_allclose(probabilities, [[0.2689414, 0.7310586]], rtol=1e-6)  # dequantized: 0.4875, 0.5125


def test_a_background_class_answers_only_with_the_majority():
    """"Is anything in view?" is yes or no: 0.4 background beside 0.35 cats and 0.25 dogs is an animal, a cat."""
    manifest = binary_like(task="multiclass", labels=("cats", "dogs", "nothing"),
                           output=TensorSpec((3,), "float32"), reject=Reject(background_label="nothing"))
    rows = np.array([[0.35, 0.25, 0.40], [0.20, 0.25, 0.55], [0.60, 0.30, 0.10], [0.25, 0.25, 0.50]])
    assert predicted_indices(rows, manifest).tolist() == [0, 2, 0, 0]
    prediction = decode_probabilities(rows[0], manifest)
    assert (prediction.label, prediction.score) == ("cats", 0.35)
    assert predicted_indices(rows, replace(manifest, reject=Reject())).tolist() == [2, 2, 0, 2]  # plain argmax
    raised = replace(manifest, reject=Reject(background_label="nothing", background_threshold=0.6))  # calibrated
    assert predicted_indices(rows, raised).tolist() == [0, 1, 0, 0]
