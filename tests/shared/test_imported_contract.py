"""What the contract grew for models made elsewhere: mean/std scaling, BGR, flat and channel-less inputs, outputs
that are already probabilities, another tool's resampling, a backbone without a head; labels as other tools
write them; TFLite metadata read without tflite-support. Old manifests load as before, and a manifest of an old
kind is written as before."""

from __future__ import annotations

import json

import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR, resolve_bundled
from piclassify.shared.contract.manifest import Manifest, Quantization, Scaling, TensorSpec, load_manifest
from piclassify.shared.contract.scaling import input_lut, scale_pixels
from piclassify.shared.contract.tensors import InputEncoder, output_probabilities
from piclassify.shared.errors import ManifestError
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.shared.imports.labels import LabelsError, is_numbered, parse_labels_file, parse_labels_text
from piclassify.shared.imports.tflite_metadata import MetadataError, read_metadata

from tests.helpers.manifests import binary_like, digits_like

PIXELS = np.arange(256, dtype=np.uint8)


@pytest.mark.parametrize("dtype, quant", [("uint8", Quantization(2 / 255, 127)), ("uint8", Quantization(1 / 255, 0)),
                                          ("int8", Quantization(1 / 255, -128))])
def test_a_quantized_inputs_own_range_feeds_each_pixel_byte_as_it_is(dtype, quant):
    """Teachable Machine's, Coral's and the Task Library's quantized models take the pixel bytes themselves: mean
    the zero point (128 higher for int8) and std 1/scale give exactly that, through the lookup table."""
    offset = 128 if dtype == "int8" else 0
    scaling = Scaling("meanstd", mean=(float(quant.zero_point + offset),), std=(1 / quant.scale,))
    lut = input_lut(scaling, quant, dtype)
    assert lut is not None
    np.testing.assert_array_equal(lut.astype(np.int64), PIXELS.astype(np.int64) - offset)


def test_mean_and_std_per_channel_scale_each_channel():
    scaling = Scaling("meanstd", mean=(100.0, 110.0, 120.0), std=(50.0, 55.0, 60.0))
    image = np.full((2, 2, 3), 160, np.uint8)
    np.testing.assert_allclose(scale_pixels(image, scaling)[0, 0], [1.2, 50 / 55, 40 / 60], rtol=1e-6)
    assert input_lut(scaling, Quantization(), "float32") is None  # per channel: no single table


def test_bgr_flat_and_channel_less_inputs_are_encoded_in_the_models_own_order_and_shape():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    bgr = binary_like(colour="bgr", scaling=Scaling("unit"), input=TensorSpec((4, 4, 3), "float32"))
    assert InputEncoder(bgr).encode(rgb)[0, 0, 0].tolist() == [0.0, 0.0, 1.0]
    flat = digits_like(input=TensorSpec((784,), "float32"))
    digit = np.arange(784, dtype=np.uint16).reshape(28, 28).astype(np.uint8)
    np.testing.assert_array_equal(InputEncoder(flat).encode(digit)[0], digit.reshape(784) / np.float32(255))
    assert InputEncoder(digits_like(input=TensorSpec((28, 28), "float32"))).encode(digit).shape == (1, 28, 28)
    with pytest.raises(ManifestError, match="input shape"):
        digits_like(input=TensorSpec((783,), "float32"))


def test_an_output_already_probabilities_is_read_as_it_is():
    softmax = digits_like(output=TensorSpec((10,), "float32"), activation_in_model=True)
    row = np.linspace(0, 1, 10)[np.newaxis]
    np.testing.assert_allclose(output_probabilities(row, softmax), row)
    sigmoid = binary_like(output=TensorSpec((1,), "float32"), activation_in_model=True)
    np.testing.assert_allclose(output_probabilities(np.array([[0.8]]), sigmoid), [[0.2, 0.8]])
    np.testing.assert_allclose(output_probabilities(np.array([[0.0]]), binary_like(output=TensorSpec((1,),
                                                                                                      "float32"))),
                               [[0.5, 0.5]])  # logits, as piclassify's own models end


@pytest.mark.parametrize("resample", ["nearest", "lanczos", "bilinear"])
def test_another_tools_resampling_is_that_tools_own(resample):
    from PIL import Image, ImageOps

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    ours = frame_rgb(photo, 64, 64, "centre-crop" if resample == "lanczos" else "squash", resample)
    if resample == "lanczos":
        theirs = np.asarray(ImageOps.fit(Image.fromarray(photo), (64, 64), Image.Resampling.LANCZOS))
    elif resample == "nearest":
        theirs = np.asarray(Image.fromarray(photo).resize((64, 64), Image.Resampling.NEAREST))
    else:
        import cv2

        theirs = cv2.resize(photo, (64, 64), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(ours, theirs)


def test_a_manifest_of_an_old_kind_is_written_as_before_and_the_new_fields_are_checked():
    data = json.loads(digits_like().to_json())
    assert not {"resample", "activation_in_model"} & set(data) and set(data["scaling"]) == {"mode", "minimum",
                                                                                             "maximum"}
    new = digits_like(resample="lanczos", scaling=Scaling("meanstd", mean=(127.5,), std=(127.5,)))
    assert Manifest.from_dict(json.loads(new.to_json())) == new
    for bundled in ("digits", "fashion", "catsdogs"):  # written before these fields, they load as they are
        path = resolve_bundled(bundled)
        assert path is not None and load_manifest(path).resample == "area"
    with pytest.raises(ManifestError, match="resample is 'cubic'"):
        digits_like(resample="cubic")


def test_manifest_fields_bound_mean_and_std(tmp_path):
    from piclassify.shared.contract.manifest_fields import check_fields

    data = json.loads(digits_like(scaling=Scaling("meanstd", mean=(0.0,), std=(1.0,))).to_json())
    check_fields(data, Manifest, 1)
    for scaling, message in (({"mode": "meanstd", "mean": [0], "std": [0]}, "scaling.std\\[0\\] must be above 0"),
                             ({"mode": "meanstd", "mean": [0, 0], "std": [1]}, "scaling.mean must have 1 value"),
                             ({"mode": "meanstd", "mean": [], "std": []}, "scaling.mean must have 1 value")):
        with pytest.raises(ManifestError, match=message):
            check_fields({**data, "scaling": scaling}, Manifest, 1)


def test_labels_as_teachable_machine_keras_and_imagenet_write_them():
    assert parse_labels_file(b"0 Cat\n1 Dog food\n", "labels.txt") == ("Cat", "Dog food")
    assert is_numbered(b"\xef\xbb\xbf0 Cat\n") and not is_numbered(b"cat\ndog\n")
    assert parse_labels_file(b"background\ncrane\nmaillot\ncrane\n\n", "x") == ("background", "crane", "maillot",
                                                                               "crane (2)")
    assert parse_labels_text("{'cats': 0, 'dogs': 1}") == ("cats", "dogs")
    assert parse_labels_text('{"dogs": 1, "cats": 0}') == ("cats", "dogs")
    assert parse_labels_text("cats, dogs") == ("cats", "dogs")
    for text, message in (("{'cats': 0, 'dogs': 2}", "0, 1, ... each once"), ("cats,,dogs", "label 2"),
                          ("a,\x1b[31mred", "printable")):
        with pytest.raises(LabelsError, match=message):
            parse_labels_text(text)
    with pytest.raises(LabelsError, match="line 2 is empty"):
        parse_labels_file(b"cat\n\ndog\n", "x")


def test_a_model_without_metadata_has_none_and_broken_metadata_is_one_error():
    digits = (MODELS_DIR / "digits.tflite").read_bytes()
    assert read_metadata(digits) is None
    with pytest.raises(MetadataError, match="not readable"):
        read_metadata(digits[:64])


def test_a_backbone_without_a_head_allows_only_its_strongest_logit():
    from piclassify.shared.contract.reject import Reject

    from tests.helpers.manifests import head_like

    backbone = head_like().backbone
    alone = digits_like(backbone=backbone, reject=Reject(min_imagenet_logit=5.0))
    assert alone.head is None
    with pytest.raises(ManifestError, match="need a head section"):
        digits_like(backbone=backbone, reject=Reject(min_similarity=0.5))
