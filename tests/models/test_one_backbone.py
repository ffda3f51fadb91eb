"""One backbone everywhere: every model names it by sha256, and finds it beside itself or bundled with piclassify.

What a user copies cannot break a model: a model copied without its backbone runs on the bundled one, and
another backbone copied over the one beside taught models leaves them running (they name the bundled bytes).
What piclassify itself writes never replaces a backbone: the same bytes are fine, other bytes are refused in one
line that says what to do.
"""

import json
import shutil
from dataclasses import replace

import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE, bundled_backbone, description_path, locate_backbone
from piclassify.shared.backbone.head_model import place_backbone
from piclassify.shared.classifier import Classifier, check_model_files
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.errors import ManifestError

from conftest import REPO

BACKBONE = MODELS_DIR / BACKBONE_FILE


def other_backbone(path):
    """A file of the backbone's name and other bytes (as `piclassify-train backbone --rebuild` would make)."""
    data = bytearray(BACKBONE.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def copy_alone(name, folder):
    """A bundled photo model's own files (model, manifest, head), without the backbone."""
    manifest = load_manifest(MODELS_DIR / name)
    for file in {name, manifest.model_file, manifest.head.file, name.rsplit(".", 1)[0] + ".json"}:
        shutil.copy(MODELS_DIR / file, folder / file)
    return folder / name


def test_the_bundled_backbone_is_found_from_shared_as_the_package_lays_it_out():
    assert bundled_backbone() == BACKBONE == REPO / "device" / "models" / BACKBONE_FILE
    assert bundled_backbone().is_file()


@pytest.mark.parametrize("name", ["catsdogs.npz", "digits.tflite"])
def test_a_model_copied_without_its_backbone_runs_on_the_bundled_one(tmp_path, name):
    model = copy_alone(name, tmp_path)
    assert not (tmp_path / BACKBONE_FILE).exists()
    classifier = Classifier.load(model)
    assert classifier.features.model_path == BACKBONE


@pytest.mark.parametrize("name", ["catsdogs.npz", "digits.tflite"])
def test_piclassify_models_counts_a_model_copied_without_its_backbone_as_whole(tmp_path, name):
    """`piclassify models` checks each model as loading it does: the bundled backbone stands in here too."""
    assert check_model_files(copy_alone(name, tmp_path)).name == name.split(".")[0]


def test_another_backbone_copied_beside_taught_models_breaks_none_of_them(tmp_path):
    """The issue's case: a trainer's model with a backbone of its own copied into the taught models' folder."""
    model = copy_alone("catsdogs.npz", tmp_path)
    other_backbone(tmp_path / BACKBONE_FILE)
    classifier = Classifier.load(model)  # names the bundled sha256: found bundled, not the file beside it
    assert classifier.features.model_path == BACKBONE


def test_a_model_on_another_backbone_finds_it_beside_itself(tmp_path):
    other = other_backbone(tmp_path / BACKBONE_FILE)
    section = load_manifest(MODELS_DIR / "catsdogs.npz").backbone
    assert locate_backbone(tmp_path, replace(section, sha256=sha256_of(other))) == other
    assert locate_backbone(tmp_path, section) == BACKBONE


def test_a_backbone_neither_beside_nor_bundled_is_one_line_that_says_what_to_copy(tmp_path):
    model = copy_alone("catsdogs.npz", tmp_path)
    manifest = json.loads(model.with_suffix(".json").read_text())
    manifest["backbone"]["sha256"] = "0" * 64
    model.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="the backbone file is missing") as error:
        Classifier.load(model)
    message = str(error.value)
    assert "nor is it the backbone bundled with piclassify" in message and BACKBONE_FILE in message
    assert "\n" not in message


def test_placing_the_same_backbone_beside_models_that_have_it_is_fine(tmp_path):
    shutil.copy(BACKBONE, tmp_path / BACKBONE_FILE)
    assert place_backbone(BACKBONE, tmp_path) == tmp_path / BACKBONE_FILE
    assert (tmp_path / description_path(BACKBONE).name).read_bytes() == description_path(BACKBONE).read_bytes()


def test_placing_a_backbone_where_another_is_is_refused_and_replaces_nothing(tmp_path):
    other = other_backbone(tmp_path / BACKBONE_FILE)
    before = other.read_bytes()
    with pytest.raises(ManifestError, match="another backbone is there") as error:
        place_backbone(BACKBONE, tmp_path)
    assert "--out DIR" in str(error.value) and "\n" not in str(error.value)
    assert other.read_bytes() == before
