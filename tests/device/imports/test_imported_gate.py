""""Nothing in view" for an imported model, and an imported model as a model like any other.

The model is the bundled digits network's own ``.tflite`` imported bare (as a course's 28x28 MNIST model would
be, labels on the command line), with photos of printed digits; no TensorFlow, so these run on the Pi too.
"""

from __future__ import annotations

import json

import pytest

from piclassify.device.core.model_files import MODELS_DIR, SAMPLES_DIR

from tests.helpers.cli import piclassify
from tests.helpers.shapes import printed_digits

DIGITS = ",".join(str(n) for n in range(10))



@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return printed_digits(tmp_path_factory.mktemp("printed"))


def imported(capsys, tmp_path, *extra, name="mnist"):
    code, out, err = piclassify(capsys, "import", "--tflite", MODELS_DIR / "digits.tflite", "--labels", DIGITS, "--name", name,
                         "--out", tmp_path, *extra)
    assert code == 0, err
    return json.loads((tmp_path / f"{name}.json").read_text()), out


def test_check_reads_a_bare_mnist_model_as_mnist_a_light_digit_cut_out_of_a_photo_of_ink(tmp_path, capsys, photos):
    manifest, out = imported(capsys, tmp_path, "--check", photos, "--nothing", "off")
    assert "kept the documented reading: the object cut out and centred (MNIST's framing)" in out
    assert (manifest["resize"], manifest["polarity"]) == ("object", "light-on-dark")
    assert manifest["metrics"]["tflite_accuracy"] >= 0.9
    assert out.count("%  ") == 6  # its int8 input settles the scale: 3 framings x 2 inks
    assert "backbone" not in manifest and manifest["metrics"]["nothing_in_view"]["gate"].startswith("off")


def test_without_examples_the_backbone_alone_turns_away_what_it_recognises_nothing_in(tmp_path, capsys):
    manifest, out = imported(capsys, tmp_path)
    assert "the backbone alone" in out
    assert "head" not in manifest and manifest["backbone"]["size"] == 224
    assert manifest["reject"]["min_imagenet_logit"] == pytest.approx(4.97)
    code, out, err = piclassify(capsys, "predict", "--model", tmp_path / "mnist.tflite", SAMPLES_DIR / "digits-1-7.jpg",
                         SAMPLES_DIR / "nothing-2-paper.jpg")
    assert code == 0, err
    seven, paper = out.splitlines()
    assert seven.split(": ")[1].startswith("7 ")
    assert "nothing in view" in paper
    code, out, err = piclassify(capsys, "info", tmp_path / "mnist.tflite")
    assert "gate: the backbone alone" in out and "strongest ImageNet logit" in out


def test_examples_calibrate_the_gate_as_teach_does_and_info_says_what_it_was_measured_at(tmp_path, capsys, photos):
    examples = printed_digits(tmp_path / "examples", per_class=3, seed=1)  # a few per label, as teach takes them
    manifest, out = imported(capsys, tmp_path, "--examples", examples)
    assert (tmp_path / "mnist-head.npz").is_file() and manifest["head"]["classifies"] is False
    assert 0 < manifest["reject"]["min_similarity"] < 1
    measured = manifest["metrics"]["nothing_in_view"]
    assert measured["examples"] == 30 and 0 <= measured["examples_nothing_left_out"] <= 0.1
    code, out, err = piclassify(capsys, "info", tmp_path / "mnist.tflite")
    assert code == 0, err
    assert "gate: calibrated on 30 examples" in out and "answered nothing when left out" in out
    code, out, err = piclassify(capsys, "predict", "--model", tmp_path / "mnist.tflite", SAMPLES_DIR / "catsdogs-1-cat.jpg",
                         photos / "3" / "00.jpg")
    cat, three = out.splitlines()
    assert "nothing in view" in cat and three.split(": ")[1].startswith("3 ")


def test_a_label_named_nothing_answers_nothing_in_view(tmp_path, capsys, photos):
    manifest, _ = imported(capsys, tmp_path, "--nothing-label", "0", "--nothing", "off")
    assert manifest["reject"]["background_label"] == "0"
    code, out, err = piclassify(capsys, "predict", "--model", tmp_path / "mnist.tflite", photos / "0" / "01.jpg")
    assert "nothing in view (the model sees only background)" in out


def test_an_imported_model_is_a_model_like_any_other(tmp_path, capsys, photos, monkeypatch):
    monkeypatch.setenv("PICLASSIFY_MODELS", str(tmp_path))
    code, out, err = piclassify(capsys, "import", "--tflite", MODELS_DIR / "digits.tflite", "--labels", DIGITS, "--name",
                         "mnist", "--check", photos, "--nothing", "off")
    assert code == 0, err
    assert "try: piclassify predict --model mnist PHOTO" in out
    code, out, err = piclassify(capsys, "models")
    assert any(line.startswith("mnist ") and f"{photos}" in line for line in out.splitlines()), out
    code, out, err = piclassify(capsys, "evaluate", "--model", "mnist", photos, "--json")
    assert code == 0, err
    assert json.loads(out)["photos"] == 120
    code, out, err = piclassify(capsys, "run", "--model", "mnist", "--source", photos / "5", "--count", "3", "--json")
    assert code == 0, err
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["5", "5", "5"]
    code, out, err = piclassify(capsys, "import", "--tflite", MODELS_DIR / "digits.tflite", "--labels", DIGITS, "--name",
                         "digits")
    assert code == 2 and "a bundled model has that name" in err


def test_a_teachable_machine_folder_is_read_as_its_zip_is(tmp_path, capsys):
    """The unpacked download: the model and labels.txt numbered as Teachable Machine numbers them; its reading is
    Teachable Machine's (a gray model gets the same crop and Lanczos)."""
    folder = tmp_path / "converted_tflite"
    folder.mkdir()
    (folder / "model.tflite").write_bytes((MODELS_DIR / "digits.tflite").read_bytes())
    (folder / "labels.txt").write_text("".join(f"{n} digit {n}\n" for n in range(10)))
    code, out, err = piclassify(capsys, "import", "--from", folder, "--name", "tm-folder", "--out", tmp_path / "out",
                         "--nothing", "off")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "tm-folder.json").read_text())
    assert manifest["labels"][:2] == ["digit 0", "digit 1"]
    assert (manifest["resize"], manifest["resample"]) == ("centre-crop", "lanczos")
    assert "Teachable Machine's documented preprocessing" in out


def test_the_web_view_shows_the_model_input_as_the_imported_model_saw_it(tmp_path, capsys, photos):
    from piclassify.device.core.frames import Frame
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.shared.files.imagefile import read_image
    from piclassify.shared.framing.framed import FramingSteps

    imported(capsys, tmp_path, "--nothing", "off")
    pipeline = Pipeline.load(str(tmp_path / "mnist.tflite"))
    steps = FramingSteps()
    result = pipeline.classify(Frame(read_image(photos / "4" / "02.jpg"), 0.0, 0, "photo"), steps)
    model_input = steps.images["model-input"]
    assert result.label == "4" and model_input.shape == (28, 28)
    assert model_input[0, 0] == 0 and model_input.max() == 255  # a light digit on black, as MNIST's
