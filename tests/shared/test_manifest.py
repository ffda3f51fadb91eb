"""The manifest: written beside the model, read back identically, and refused when it does not fit."""

import json
from dataclasses import replace

import numpy as np
import pytest

from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Manifest, Quantization, TensorSpec, load_manifest, write_manifest
from piclassify.shared.contract.tensor_check import check_tensor_details
from piclassify.shared.errors import ManifestError

from tests.helpers.manifests import binary_like, digits_like


@pytest.fixture
def model_file(tmp_path):
    """A stand-in model file and its correct manifest beside it (only the bytes' hash matters here)."""
    path = tmp_path / "digits.tflite"
    path.write_bytes(b"not really a flatbuffer, but hashed all the same")
    write_manifest(digits_like(sha256=sha256_of(path)), path.with_suffix(".json"))
    return path


def test_json_round_trip_keeps_every_field():
    manifest = binary_like(metrics={"tflite_accuracy": 0.9}, versions={"tensorflow": "2.21.0"})
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest


def test_load_returns_the_manifest_of_an_unchanged_model(model_file):
    assert load_manifest(model_file).name == "digits"


def test_a_changed_model_file_is_refused_by_its_sha256(model_file):
    model_file.write_bytes(b"retrained without updating the manifest")
    with pytest.raises(ManifestError, match="sha256 does not match digits.tflite"):
        load_manifest(model_file)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
    (lambda d: d.pop("labels"), "missing field 'labels'"),
    (lambda d: d.update(colour="sepia"), "colour is 'sepia'"),
    (lambda d: d.update(labels=["a", "b"]), "output shape \\(10,\\) does not match 2"),
    (lambda d: d["input"].update(shape=[32, 32, 1]), "input shape"),
    (lambda d: d.update(name="digits\nstarted: forged"), "name must be printable text of at most 200 characters"),
    (lambda d: d["labels"].__setitem__(0, "\x1b]0;title\x07"), "labels\\[0\\] must be printable text"),
])
def test_malformed_or_inconsistent_manifests_are_refused(model_file, edit, message):
    json_path = model_file.with_suffix(".json")
    data = json.loads(json_path.read_text())
    edit(data)
    json_path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=message):
        load_manifest(model_file)


def test_missing_and_unparseable_manifests_name_the_file(model_file):
    json_path = model_file.with_suffix(".json")
    json_path.write_text("{not json")
    with pytest.raises(ManifestError, match="digits.json: not valid JSON"):
        load_manifest(model_file)
    json_path.unlink()
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(model_file)


def _details(shape, dtype, scale, zero_point):
    return [{"index": 0, "shape": np.array(shape), "dtype": dtype, "quantization": (scale, zero_point)}]


def test_tensor_details_that_match_pass():
    check_tensor_details(digits_like(), _details([1, 28, 28, 1], np.int8, 1 / 255, -128),
                         _details([1, 10], np.int8, 0.1, 3))


@pytest.mark.parametrize("inputs, outputs, message", [
    (_details([1, 32, 32, 1], np.int8, 1 / 255, -128), _details([1, 10], np.int8, 0.1, 3), "input shape"),
    (_details([1, 28, 28, 1], np.float32, 0.0, 0), _details([1, 10], np.int8, 0.1, 3), "input dtype float32"),
    (_details([1, 28, 28, 1], np.int8, 1 / 255, 0), _details([1, 10], np.int8, 0.1, 3), "input quantization"),
    (_details([1, 28, 28, 1], np.int8, 1 / 255, -128), _details([1, 10], np.int8, 0.2, 3), "output quantization"),
])
def test_tensor_details_that_differ_are_refused(inputs, outputs, message):
    with pytest.raises(ManifestError, match=message):
        check_tensor_details(digits_like(), inputs, outputs)


def test_a_binary_manifest_needs_two_labels_and_one_output():
    with pytest.raises(ManifestError, match="exactly 2 labels"):
        binary_like(labels=("cats", "dogs", "birds"))
    with pytest.raises(ManifestError, match="output shape"):
        replace(binary_like(), output=TensorSpec((2,), "int8", Quantization(0.05, 0)))


def test_mirror_average_survives_the_round_trip_and_an_older_manifest_has_it_off():
    manifest = binary_like(mirror_average=True)
    assert Manifest.from_dict(json.loads(manifest.to_json())).mirror_average is True
    data = json.loads(digits_like().to_json())
    del data["mirror_average"]
    assert Manifest.from_dict(data).mirror_average is False


def test_with_mirror_average_the_classifier_averages_an_image_and_its_mirror_image():
    from piclassify.device.core.model_files import MODELS_DIR
    from piclassify.shared.classifier import Classifier

    plain = Classifier.load(MODELS_DIR / "digits.tflite")  # any model shows it
    both = Classifier(plain.model_path, replace(plain.manifest, mirror_average=True), plain.runtime)
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 6:10] = image[4:8, 6:20] = 255  # an asymmetric stroke: its mirror image reads differently
    single, mirrored = plain.image_probabilities(image), plain.image_probabilities(image[:, ::-1])
    assert not np.allclose(single, mirrored, atol=0.05)
    np.testing.assert_allclose(both.image_probabilities(image), (single + mirrored) / 2, rtol=1e-6)
    assert both.predict(image).score == pytest.approx(float(np.max((single + mirrored) / 2)), rel=1e-6)
