"""The trainer end to end on a few hundred real images: train, export int8, verify, report."""

import json

import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE
from piclassify.shared.classifier import Classifier
from piclassify.shared.inference.runtime import load_runtime
from piclassify.trainer.cli import main as train_main

BACKBONE = MODELS_DIR / BACKBONE_FILE

pytestmark = [pytest.mark.training, pytest.mark.dataset]


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory, mnist_dir):
    """One epoch on 300 MNIST images: quick, and enough to exercise every step."""
    out = tmp_path_factory.mktemp("models")
    rc = train_main(["digits", "--limit", "300", "--epochs", "1", "--out", str(out), "--data-dir", str(mnist_dir.parent),
                     "--backbone", str(BACKBONE)])
    assert rc == 0
    return out / "digits.tflite"


def test_the_model_gets_its_backbone_head_beside_it(smoke_model):
    """Trained models end as the bundled ones do: a head on the backbone says when a frame shows no writing."""
    manifest = Classifier.load(smoke_model).manifest  # checks the head's and the backbone's sha256
    assert (smoke_model.parent / "digits-head.npz").is_file() and (smoke_model.parent / BACKBONE.name).is_file()
    assert manifest.head.file == "digits-head.npz" and not manifest.head.classifies and manifest.backbone.size == 144
    assert 0 < manifest.reject.min_similarity < 1
    camera = manifest.metrics["camera_photos"]
    assert camera["photos"] == 300 and camera["right"] + camera["nothing_in_view"] <= 300


def test_export_writes_an_int8_model_its_manifest_and_the_report(smoke_model):
    assert smoke_model.is_file() and smoke_model.with_suffix(".json").is_file()
    reports = smoke_model.parent / "reports"
    assert (reports / "digits-confusion.png").stat().st_size > 1000
    assert (reports / "digits-mistakes.png").stat().st_size > 1000
    classifier = Classifier.load(smoke_model)  # the manifest describes this exact file
    manifest = classifier.manifest
    assert manifest.input.dtype == "int8" and manifest.input.quantization.zero_point == -128
    assert manifest.resize == "object" and manifest.polarity == "light-on-dark"
    on_paper = manifest.training["digits_on_paper"]  # as many again, written on paper and framed as the Pi does
    assert 250 <= on_paper <= 300 and manifest.training["train_images"] + manifest.training["validation_images"] == 300 + on_paper
    assert manifest.versions["tensorflow"][0].isdigit()


def test_manifest_accuracy_is_measured_on_the_full_test_set(smoke_model, mnist_test):
    images, labels = mnist_test
    manifest = json.loads(smoke_model.with_suffix(".json").read_text())
    assert manifest["metrics"]["test_images"] == 10000
    classifier = Classifier.load(smoke_model)
    remeasured = float(np.mean(classifier.probabilities(images).argmax(axis=1) == labels))
    assert manifest["metrics"]["tflite_accuracy"] == pytest.approx(remeasured, abs=1e-4)
    assert abs(manifest["metrics"]["keras_accuracy"] - manifest["metrics"]["tflite_accuracy"]) < 0.05


def test_missing_data_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PICLASSIFY_DATA", raising=False)
    monkeypatch.setattr("piclassify.trainer.data.datasets.DEBIAN_ROOT", tmp_path / "debian")
    monkeypatch.setattr("piclassify.trainer.data.datasets.KERAS_CACHE", tmp_path / "keras")
    assert train_main(["fashion", "--data-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("piclassify-train: error: fashion-mnist not found") and "\n" not in err


@pytest.mark.parametrize("quantization, weight_dtype", [("float16", np.float16), ("dynamic", np.int8)])
def test_other_export_modes_give_working_float_input_models(tmp_path, mnist_dir, quantization, weight_dtype):
    rc = train_main(["digits", "--arch", "mlp", "--limit", "300", "--epochs", "1", "--quantize", quantization,
                     "--out", str(tmp_path), "--data-dir", str(mnist_dir.parent), "--no-backbone"])
    assert rc == 0
    classifier = Classifier.load(tmp_path / "digits.tflite")
    assert classifier.manifest.input.dtype == "float32" and not classifier.manifest.input.quantization.is_quantized
    tensors = load_runtime().interpreter_class(model_path=str(tmp_path / "digits.tflite")).get_tensor_details()
    assert weight_dtype in {tensor["dtype"] for tensor in tensors}  # the weights are stored as the mode says
    metrics = classifier.manifest.metrics
    assert metrics["tflite_accuracy"] > 0.2  # 300 images, one epoch: well above chance (0.1)
    assert metrics["keras_tflite_agreement"] > 0.97  # the float model survives conversion
