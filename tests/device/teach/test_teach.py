"""``piclassify teach``: a new photo model fitted on the Pi from a folder per class, with no TensorFlow.

The examples here are the bundled sample photos (three pets, four garments), so the tests need no
dataset; the accuracy on real photo collections is measured by ``scripts/bench_teach.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.files.imagefile import read_image

from conftest import tensorflow_loaded_by


def examples(folder: Path, classes: dict[str, str]) -> Path:
    """``folder/<class>/`` holding the bundled samples whose names start with each class's prefix."""
    for name, prefix in classes.items():
        (folder / name).mkdir(parents=True)
        for photo in sorted(SAMPLES_DIR.glob(f"{prefix}-*.jpg")):
            shutil.copy(photo, folder / name / photo.name)
    return folder


@pytest.fixture(scope="module")
def taught(tmp_path_factory) -> Path:
    """``things``, taught pets and clothes from the samples; its folder is also the user's models folder."""
    root = tmp_path_factory.mktemp("teach")
    folder = examples(root / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    assert main(["teach", "things", "--from", str(folder), "--out", str(root / "models")]) == 0
    return root / "models"


def test_teach_writes_a_head_model_with_its_examples_and_cross_validated_accuracy(taught):
    manifest = json.loads((taught / "things.json").read_text())
    assert manifest["labels"] == ["clothes", "pets"]  # folder names, sorted
    assert manifest["training"]["photos_per_class"] == {"clothes": 4, "pets": 3}
    assert manifest["training"]["taught_on"] == "device"
    assert 0.0 <= manifest["metrics"]["cross_validated_accuracy"] <= 1.0
    assert manifest["reject"]["min_similarity"] > 0
    assert sorted(p.name for p in taught.iterdir()) == ["efficientnet-lite0.backbone.json", "efficientnet-lite0.tflite.gz",
                                                        "things.json", "things.npz"]


def test_the_taught_model_names_what_it_learnt_and_says_nothing_in_view_for_an_empty_scene(taught):
    pipeline = Pipeline.load(str(taught / "things.npz"))
    from conftest import classify_photo

    assert classify_photo(pipeline, read_image(SAMPLES_DIR / "catsdogs-2-dog.jpg")).prediction.label == "pets"
    assert classify_photo(pipeline, read_image(SAMPLES_DIR / "fashion-2-trouser.jpg")).prediction.label == "clothes"
    for scene in ("nothing-1-tabletop.jpg", "nothing-2-paper.jpg"):
        assert classify_photo(pipeline, read_image(SAMPLES_DIR / scene)).prediction is None, scene


def test_every_command_takes_a_taught_model_by_name_from_the_user_s_models_folder(taught, monkeypatch, capsys):
    monkeypatch.setenv("PICLASSIFY_MODELS", str(taught))
    assert main(["predict", "--model", "things", str(SAMPLES_DIR / "catsdogs-1-cat.jpg"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "pets"
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "things" in listed and "cross-validated" in listed
    assert main(["info", "things"]) == 0


def test_teaching_needs_no_tensorflow(tmp_path):
    folder = examples(tmp_path / "examples", {"cats": "catsdogs-1", "dogs": "catsdogs-2"})
    for photo in list(folder.rglob("*.jpg")):  # a second example of each: a mirror image
        Image = pytest.importorskip("PIL.Image")
        Image.fromarray(read_image(photo)[:, ::-1]).save(photo.with_name("mirrored.jpg"))
    assert tensorflow_loaded_by(["teach", "pets", "--from", str(folder), "--out", str(tmp_path / "models")]) == []


def test_a_model_of_the_same_name_is_replaced_only_with_force(taught, tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(taught, models)
    before = {path.name: path.read_bytes() for path in models.iterdir()}
    folder = examples(tmp_path / "examples", {"pets": "catsdogs", "things": "fashion"})
    assert main(["teach", "things", "--from", str(folder), "--out", str(models)]) == 2
    error = capsys.readouterr().err
    assert error == f"piclassify: error: {models / 'things.npz'}: a model called things is already there; give " \
                    "--force to replace it, or pick another name\n"
    assert {path.name: path.read_bytes() for path in models.iterdir()} == before
    assert main(["teach", "things", "--from", str(folder), "--out", str(models), "--force"]) == 0
    assert json.loads((models / "things.json").read_text())["labels"] == ["pets", "things"]


@pytest.mark.parametrize("name, why", [
    ("../x", "a model name is 1-64 letters, digits"),
    ("/tmp/x", "a model name is 1-64 letters, digits"),
    ("a\nb", "a model name is 1-64 letters, digits"),
    ("digits", "a bundled model has that name"),
])
def test_a_bad_name_is_one_line_and_writes_nothing(tmp_path, capsys, name, why):
    folder = examples(tmp_path / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    assert main(["teach", name, "--from", str(folder), "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert why in error and error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("classes, why", [
    ({"pets": "catsdogs"}, "expected at least two class folders"),
    ({"pets": "catsdogs", "a-dog": "catsdogs-2"}, "each class needs at least 2 examples (a-dog has fewer)"),
])
def test_too_few_classes_or_examples_is_one_line_and_writes_nothing(tmp_path, capsys, classes, why):
    folder = examples(tmp_path / "examples", classes)
    assert main(["teach", "pets", "--from", str(folder), "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert why in error and error.count("\n") == 1
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("out", ["a-file", "read-only"])
def test_an_out_folder_that_cannot_be_written_is_one_line(tmp_path, capsys, out):
    folder = examples(tmp_path / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    target = tmp_path / out
    if out == "a-file":
        target.write_text("in the way")
    else:
        target.mkdir()
        target.chmod(0o500)
        if os.access(target, os.W_OK):
            pytest.skip("running as a user who may write anywhere")
    assert main(["teach", "things", "--from", str(folder), "--out", str(target)]) == 2
    error = capsys.readouterr().err
    assert "cannot write things there" in error and error.count("\n") == 1


def _with_reject(taught: Path, folder: Path, **settings) -> Pipeline:
    """The taught model copied into ``folder`` with some of its ``reject`` settings changed."""
    for path in taught.iterdir():
        shutil.copy(path, folder / path.name)
    manifest = json.loads((folder / "things.json").read_text())
    manifest["reject"].update(settings)
    (folder / "things.json").write_text(json.dumps(manifest))
    return Pipeline.load(str(folder / "things.npz"))


def test_a_taught_model_knows_which_imagenet_classes_its_examples_are(taught):
    """A few photos cannot show every breed or every light; ImageNet's 1000 classes can say what the examples are.
    The head keeps those classes, and the manifest the least of the backbone's belief on them a frame needs."""
    from piclassify.shared.contract.manifest import load_manifest

    manifest = load_manifest(taught / "things.npz")
    with np.load(taught / "things.npz") as head:
        classes = head["imagenet_classes"]
    assert len(classes) and np.all(np.diff(classes) > 0) and classes.max() < 1000
    assert 0 < manifest.reject.min_class_mass <= 0.1
    assert manifest.reject.sure_class_mass == 0.7


def test_too_little_belief_on_the_model_s_imagenet_classes_is_nothing_in_view_however_alike(taught, tmp_path):
    from conftest import classify_photo

    pipeline = _with_reject(taught, tmp_path, min_similarity=0.0, min_class_mass=1.0, sure_class_mass=1.0)
    result = classify_photo(pipeline, read_image(SAMPLES_DIR / "catsdogs-2-dog.jpg"))
    assert result.prediction is None and result.reason.startswith("not what the model knows to ImageNet")


def test_enough_belief_on_them_is_in_view_however_unlike_the_examples(taught, tmp_path):
    """A dog of a breed the examples lack: ImageNet is sure it is a dog, though no example looks like it."""
    from conftest import classify_photo

    photo = read_image(SAMPLES_DIR / "catsdogs-2-dog.jpg")
    unlike = _with_reject(taught, tmp_path, min_similarity=1.0, min_class_mass=0.0, sure_class_mass=1.0)
    assert classify_photo(unlike, photo).reason.startswith("unlike the photos the model learnt from")
    (tmp_path / "again").mkdir()
    sure = _with_reject(taught, tmp_path / "again", min_similarity=1.0, min_class_mass=0.0, sure_class_mass=0.0)
    assert classify_photo(sure, photo).prediction.label == "pets"


def test_a_model_taught_before_keeps_its_strongest_logit_gate(taught, tmp_path):
    """Models taught before ImageNet's classes joined the rule held the strongest ImageNet logit 1% of their views
    fall below; their manifests still load and still turn away a frame below it."""
    from conftest import classify_photo

    pipeline = _with_reject(taught, tmp_path, min_imagenet_logit=1000.0)  # no photo's strongest logit is this high
    result = classify_photo(pipeline, read_image(SAMPLES_DIR / "catsdogs-2-dog.jpg"))
    assert result.prediction is None and result.reason.startswith("nothing the backbone knows: strongest ImageNet logit")


def test_the_example_store_is_bounded_and_undo_takes_the_newest_even_after_a_restart(tmp_path, monkeypatch):
    """What the web view's teach panel keeps: a folder per class, numbered across classes."""
    from piclassify.device.teach import examples
    from piclassify.device.teach.examples import ExampleError, ExampleStore

    monkeypatch.setattr(examples, "MAX_PER_CLASS", 2)
    monkeypatch.setattr(examples, "MAX_CLASSES", 2)
    pixel = np.zeros((8, 8, 3), np.uint8)
    store = ExampleStore(tmp_path / "examples")
    assert store.counts() == {} and store.undo() is None  # nothing yet, not even the folder
    assert [store.add("cat", pixel), store.add("dog", pixel), store.add("cat", pixel)] == [1, 1, 2]
    with pytest.raises(ExampleError, match="at most 2 examples a class"):
        store.add("cat", pixel)
    with pytest.raises(ExampleError, match="at most 2 classes"):
        store.add("bird", pixel)
    again = ExampleStore(tmp_path / "examples")  # a restart
    assert again.undo() == "cat" and again.undo() == "dog"
    assert again.counts() == {"cat": 1} and not (tmp_path / "examples" / "dog").exists()
    assert again.add("dog", pixel) == 1
    assert sorted(path.name for path in (tmp_path / "examples").rglob("*.jpg")) == ["00000001.jpg", "00000002.jpg"]
