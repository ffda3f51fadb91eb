"""Each bundled model matches its manifest and still scores what the manifest says, on real data."""

import json
from pathlib import Path

import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR, bundled_model_paths
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.contract.tensors import predicted_indices
from piclassify.trainer.data.idx import read_idx
from piclassify.trainer.publish import data_name

from tests.conftest import require_dataset

IDX_TEST_SETS = {"digits": "mnist", "fashion": "fashion-mnist"}
BUNDLED = {path.stem: path for path in bundled_model_paths() if load_manifest(path).table is None}  # tables: test_table_predict.py


def test_the_three_classifiers_ship_with_the_package():
    assert set(BUNDLED) == {"digits", "fashion", "catsdogs"}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_model_matches_its_manifest(name):
    classifier = Classifier.load(BUNDLED[name])  # checks sha256s (model, head, backbone), shapes, dtypes, quantization
    manifest = classifier.manifest
    if manifest.is_all_head:  # catsdogs: a head on the backbone, float32 features in, a logit per label out
        assert manifest.model_file == f"{name}.npz" and manifest.input.shape == manifest.backbone.features.shape
    else:
        assert manifest.model_file == f"{name}.tflite"
        assert manifest.input.dtype == "int8" and manifest.output.dtype == "int8"
    assert manifest.name == name and manifest.backbone is not None
    assert manifest.metrics["model_bytes"] == BUNDLED[name].stat().st_size
    assert 0 < manifest.metrics["tflite_accuracy"] <= 1


def strings_in(value):
    """Every string in parsed JSON, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_what_ships_names_no_path_on_the_machine_that_made_it():
    """`piclassify models` and `info` show what the manifests say: a data set by name, never ../shared/datasets/..."""
    for path in sorted(MODELS_DIR.glob("*.json")):
        paths = [text for text in strings_in(json.loads(path.read_text())) if
                 text.startswith(("/", "./", "../", "~")) or any(part in text for part in ("shared/datasets", "/home/",
                                                                                           "/root/", "/tmp/", "/work/"))]
        assert paths == [], path.name
    assert load_manifest(MODELS_DIR / "catsdogs.npz").metrics["test_set"] == "cats_and_dogs_filtered/validation"


def test_a_trainer_records_a_data_folder_by_its_last_names():
    assert data_name("../shared/datasets/cats_and_dogs_filtered/validation", 2) == "cats_and_dogs_filtered/validation"
    assert data_name("/home/me/photos/flowers") == "flowers" and data_name("keras download") == "keras download"
    assert data_name(Path("/home/me/photos/train (held out)"), 2) == "photos/train (held out)"


def test_the_model_files_together_stay_small():
    """The backbone, the heads and the networks: what a Pi downloads with piclassify."""
    total = sum(path.stat().st_size for path in MODELS_DIR.iterdir() if path.suffix in (".tflite", ".npz", ".gz"))
    assert total <= 25 * 2 ** 20


@pytest.mark.dataset
@pytest.mark.parametrize("name", sorted(set(BUNDLED) & set(IDX_TEST_SETS)))
def test_bundled_model_accuracy_is_what_its_manifest_says(name):
    """The whole real test set, through the device's classifier: the manifest's number, to rounding."""
    folder = require_dataset(IDX_TEST_SETS[name])
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    classifier = Classifier.load(BUNDLED[name])
    accuracy = float(np.mean(predicted_indices(classifier.probabilities(images), classifier.manifest) == labels))
    assert accuracy == pytest.approx(classifier.manifest.metrics["tflite_accuracy"], abs=1e-4)
    assert classifier.manifest.metrics["test_images"] == len(labels) == 10000
