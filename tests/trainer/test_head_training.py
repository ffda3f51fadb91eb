"""``piclassify-train folder``'s default: a head on the ImageNet backbone, on a tiny folder of drawn shapes.

The bundled backbone does the seeing; the recipe fits a head in seconds and measures it through the
device's own code. What the user sees on the console is our progress, not TensorFlow's internals.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import MODELS_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.backbone.extractor import BACKBONE_FILE
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.trainer.cli import main as train_main

from tests.helpers.shapes import draw, write_shapes

pytestmark = pytest.mark.training
BACKBONE = MODELS_DIR / BACKBONE_FILE


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A head for circles and squares (16 photos each), trained as a user would, with the console captured."""
    root = write_shapes(tmp_path_factory.mktemp("shapes"), per_class=(16, 10))
    out = tmp_path_factory.mktemp("models")
    completed = subprocess.run([sys.executable, "-m", "piclassify.trainer.cli", "folder", str(root), "--name", "shapes",
                                "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return out / "shapes.npz", completed.stdout + completed.stderr


def test_the_model_is_a_head_on_the_bundled_backbone_beside_a_copy_of_it(trained):
    model, _ = trained
    manifest = Classifier.load(model).manifest  # checks the head's and the backbone's sha256
    assert manifest.is_all_head and manifest.labels == ("circles", "squares") and manifest.model_file == "shapes.npz"
    assert manifest.backbone.sha256 == sha256_of(BACKBONE), "the bytes every Pi has, not a backbone of its own"
    assert (model.parent / BACKBONE.name).read_bytes() == BACKBONE.read_bytes()
    assert manifest.backbone.size == 224 and manifest.head.neighbours == 1  # 32 photos: a frame meets its nearest
    assert 0 < manifest.reject.min_similarity < 1


def test_it_learns_shapes_from_16_photos_each_and_says_what_it_measured(trained):
    model, _ = trained
    metrics = json.loads(model.with_suffix(".json").read_text())["metrics"]
    assert metrics["test_images"] == 20 and metrics["label_accuracy"] >= 0.9
    assert 0.8 <= metrics["cross_validated_accuracy"] <= 1.0
    assert metrics["nothing_in_view"]["empty_scenes"] == 400 and metrics["nothing_in_view"]["empty_scenes_rate"] >= 0.9
    training = json.loads(model.with_suffix(".json").read_text())["training"]
    assert training["photos_per_class"] == {"circles": 16, "squares": 16} and training["views_per_photo"] == 5
    assert (model.parent / "reports" / "shapes-confusion.png").is_file()


def test_the_console_shows_progress_and_none_of_tensorflow_s_internals(trained):
    _, console = trained
    assert "backbone on the training photos" in console and "done in" in console
    assert "head: 2 classes" in console and "wrote " in console
    for chatter in ("TensorSpec", "Saved artifact", "oneDNN", "UserWarning", "absl"):
        assert chatter not in console


def test_the_last_lines_say_which_files_to_copy_to_the_pi_and_how_to_try_it(trained):
    _, console = trained
    last = console.strip().splitlines()[-3:]
    assert last[0].startswith("wrote ") and "shapes.npz" in last[0]
    assert last[1].startswith("on the Pi: copy shapes.npz, shapes.json from ") and "nothing more to copy" in last[1]
    assert last[2].startswith("then try it: piclassify predict --model shapes PHOTO")
    assert console.count("backbone: ") == 1 and "weights were not checked" not in console


def test_its_files_copied_beside_taught_models_run_there_and_break_none(trained, tmp_path):
    """The Pi's taught models folder, with a taught model and the backbone teach put there: the trainer's model
    copied in, as its last lines say, runs on that backbone and leaves the taught model running."""
    model, _ = trained
    taught = tmp_path / "models"
    taught.mkdir()
    for name in ("catsdogs.npz", "catsdogs.json", BACKBONE.name):
        shutil.copy(MODELS_DIR / name, taught / name)
    for name in ("shapes.npz", "shapes.json"):
        shutil.copy(model.parent / name, taught / name)
    assert (taught / BACKBONE.name).read_bytes() == BACKBONE.read_bytes()
    assert Classifier.load(taught / "shapes.npz").features.model_path == taught / BACKBONE.name
    assert Classifier.load(taught / "catsdogs.npz").features.model_path == taught / BACKBONE.name


def test_the_device_answers_a_new_photo_as_the_trainer_would(trained):
    model, _ = trained
    photo = draw("circles", np.random.default_rng(9))
    result = Pipeline.load(str(model)).classify(Frame(photo, 0.0, 0, "circle.png"))
    assert result.label == "circles"


def test_learning_from_the_first_n_photos_of_each_class(tmp_path):
    root = write_shapes(tmp_path / "shapes", per_class=(16, 4))
    assert train_main(["folder", str(root), "--name", "few", "--per-class", "3", "--backbone", str(BACKBONE),
                       "--out", str(tmp_path / "out")]) == 0
    training = json.loads((tmp_path / "out" / "few.json").read_text())["training"]
    assert training["photos_per_class"] == {"circles": 3, "squares": 3}
