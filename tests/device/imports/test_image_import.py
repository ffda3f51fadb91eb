"""``piclassify import``: models exactly as Teachable Machine, the workshop's notebook and Model Maker export them
answer a photo as each tool's own documented code answers it.

The models are made here with TensorFlow (``tests/helpers/foreign_models.py``); each tool's preprocessing is
written out below as its snippet writes it (Pillow, NumPy and the interpreter), independently of piclassify's
code; the import needs no flag for Teachable Machine or metadata, and ``--nothing off`` keeps the model's own
answer for the comparison. Skipped where TensorFlow is not installed (the Pi).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from piclassify.device.core.pipeline import Pipeline

from tests.helpers import foreign_models as made
from tests.helpers.cli import piclassify

pytest.importorskip("tensorflow")



def interpreter(data: bytes):
    from ai_edge_litert.interpreter import Interpreter

    tool = Interpreter(model_content=data)
    tool.allocate_tensors()
    return tool


def invoke(tool, tensor: np.ndarray) -> np.ndarray:
    tool.set_tensor(tool.get_input_details()[0]["index"], tensor)
    tool.invoke()
    output = tool.get_output_details()[0]
    raw = tool.get_tensor(output["index"])[0]
    scale, zero_point = output["quantization"]
    return (raw.astype(np.float64) - zero_point) * scale if scale else raw.astype(np.float64)


def teachable_machine_snippet(path, tool, quantized: bool) -> np.ndarray:
    """Teachable Machine's Python snippet: ImageOps.fit to 224 with Lanczos, then (x / 127.5) - 1; its quantized
    model (Android, Coral) takes the pixel bytes as they are."""
    from PIL import Image, ImageOps

    image = ImageOps.fit(Image.open(path).convert("RGB"), (224, 224), Image.Resampling.LANCZOS)
    array = np.asarray(image)
    tensor = array[np.newaxis] if quantized else (array.astype(np.float32) / 127.5 - 1)[np.newaxis]
    return invoke(tool, tensor)


def ours(model_path, photo_paths) -> np.ndarray:
    """The imported model's probabilities for each photo, through the device's pipeline."""
    from piclassify.shared.files.imagefile import read_image

    pipeline = Pipeline.load(str(model_path))
    results = [pipeline.classifier.classify_photo(read_image(path)) for path in photo_paths]
    assert all(answer.prediction is not None for answer in results), "--nothing off answers every photo"
    return np.stack([answer.prediction.probabilities for answer in results])


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return made.varied_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def tm_float():
    """Teachable Machine's float model, converted once for the tests that read it."""
    return made.to_tflite(made.teachable_machine_keras())


def test_a_teachable_machine_float_download_needs_no_flag_and_answers_as_its_snippet(tmp_path, capsys, photos,
                                                                                        tm_float):
    data = tm_float
    download = made.teachable_machine_zip(tmp_path / "converted_tflite.zip", "model_unquant.tflite", data)
    code, out, err = piclassify(capsys, "import", "--from", download, "--name", "tm", "--out", tmp_path / "models",
                         "--nothing", "off")
    assert code == 0, err
    assert "centre-crop (lanczos), x/127.5 - 1, rgb (Teachable Machine's documented preprocessing" in out
    manifest = json.loads((tmp_path / "models" / "tm.json").read_text())
    assert manifest["labels"] == list(made.TM_LABELS) and manifest["activation_in_model"] is True
    theirs = np.stack([teachable_machine_snippet(path, interpreter(data), quantized=False) for path in photos])
    mine = ours(tmp_path / "models" / "tm.tflite", photos)
    assert len(set(theirs.argmax(axis=1))) >= 2, "the photos get different answers, so a wrong reading would show"
    assert np.mean(mine.argmax(axis=1) == theirs.argmax(axis=1)) == 1.0
    np.testing.assert_allclose(mine, theirs, atol=1e-4)


@pytest.mark.parametrize("zero_to_one", [True, False], ids=["older export, 1/255 and 0", "newer, 2/255 and 127"])
def test_a_quantized_teachable_machine_model_gets_its_pixel_bytes_as_its_snippet_feeds_them(
        tmp_path, capsys, photos, zero_to_one):
    model = made.teachable_machine_keras(zero_to_one_input=zero_to_one)
    data = made.to_tflite(model, 0.0 if zero_to_one else -1.0, 1.0, quantized=True)
    scale, zero_point = interpreter(data).get_input_details()[0]["quantization"]
    assert np.isclose(scale, 1 / 255 if zero_to_one else 2 / 255, rtol=1e-5) and zero_point == (0 if zero_to_one
                                                                                                 else 127)
    download = made.teachable_machine_zip(tmp_path / "converted_tflite_quantized.zip", "model.tflite", data)
    code, out, err = piclassify(capsys, "import", "--from", download, "--name", "tmq", "--out", tmp_path / "models",
                         "--nothing", "off")
    assert code == 0, err
    theirs = np.stack([teachable_machine_snippet(path, interpreter(data), quantized=True) for path in photos])
    mine = ours(tmp_path / "models" / "tmq.tflite", photos)
    assert len(set(theirs.argmax(axis=1))) >= 2
    np.testing.assert_array_equal(mine, theirs)  # the same bytes in, the same bytes out


def test_the_workshop_cats_vs_dogs_model_answers_as_load_img_and_rescale_do(tmp_path, capsys, photos):
    import keras

    data = made.workshop_cats_dogs()
    (tmp_path / "model.tflite").write_bytes(data)
    code, out, err = piclassify(capsys, "import", "--tflite", tmp_path / "model.tflite", "--labels", "{'cats': 0, 'dogs': 1}",
                         "--name", "catsdogs-workshop", "--out", tmp_path / "models", "--nothing", "off")
    assert code == 0, err
    assert "squash (nearest), x/255, rgb (the workshop notebook's documented preprocessing" in out
    tool = interpreter(data)
    theirs = []
    for path in photos:  # the notebook: load_img(path, target_size=(150, 150)), img_to_array / 255, one sigmoid
        image = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(150, 150))) / 255
        theirs.append(invoke(tool, image[np.newaxis].astype(np.float32))[0])
    theirs = np.asarray(theirs)
    mine = ours(tmp_path / "models" / "catsdogs-workshop.tflite", photos)
    assert 0 < np.sum(theirs > 0.5) < len(theirs)
    np.testing.assert_array_equal(mine[:, 1] >= 0.5, theirs >= 0.5)
    np.testing.assert_allclose(mine[:, 1], theirs, atol=1e-4)


def test_a_model_with_metadata_needs_no_flag_its_normalization_and_attached_labels_are_read(tmp_path, capsys, photos):
    import tensorflow as tf
    from PIL import Image

    labels = ("apple", "banana", "cherry", "damson")
    mean, std = (120.0, 115.0, 105.0), (60.0, 58.0, 57.0)
    data = made.with_metadata(made.to_tflite(made.model_maker_keras(len(labels))), mean, std, labels)
    (tmp_path / "model.tflite").write_bytes(data)
    code, out, err = piclassify(capsys, "import", "--tflite", tmp_path / "model.tflite", "--name", "fruit",
                         "--out", tmp_path / "models", "--nothing", "off")
    assert code == 0, err
    assert "squash (bilinear), (x - 120,115,105)/60,58,57, rgb (the model's metadata" in out
    assert json.loads((tmp_path / "models" / "fruit.json").read_text())["labels"] == list(labels)
    tool = interpreter(data)
    theirs = []
    for path in photos:  # the Task Library's way: the whole photo resized bilinearly, then (x - mean) / std
        image = tf.image.resize(np.asarray(Image.open(path).convert("RGB")), (128, 128)).numpy()
        theirs.append(invoke(tool, ((image - mean) / std)[np.newaxis].astype(np.float32)))
    theirs = np.asarray(theirs)
    mine = ours(tmp_path / "models" / "fruit.tflite", photos)
    assert len(set(theirs.argmax(axis=1))) >= 2
    assert np.mean(mine.argmax(axis=1) == theirs.argmax(axis=1)) >= 0.99
    assert np.mean(np.abs(mine - theirs)) < 0.01  # OpenCV rounds the resized pixels to bytes; TensorFlow does not


def labelled_by_the_snippet(folder, photos, data):
    """The photos in a folder per label, each labelled by the model itself read as Teachable Machine documents."""
    tool = interpreter(data)
    for path in photos:
        label = made.TM_LABELS[int(np.argmax(teachable_machine_snippet(path, tool, quantized=False)))]
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / path.name).write_bytes(path.read_bytes())
    return folder


def test_check_keeps_the_documented_reading_when_it_is_the_best(tmp_path, capsys, photos, tm_float):
    data = tm_float
    check = labelled_by_the_snippet(tmp_path / "check", photos, data)
    download = made.teachable_machine_zip(tmp_path / "converted_tflite.zip", "model_unquant.tflite", data)
    code, out, err = piclassify(capsys, "import", "--from", download, "--name", "tm", "--out", tmp_path / "models",
                         "--check", check, "--nothing", "off")
    assert code == 0, err
    assert "kept the documented reading: centre-crop (lanczos), x/127.5 - 1, rgb, 100.0% right" in out
    assert out.count("%  ") == 18  # 3 scales x 3 resizes x 2 channel orders, each printed with its accuracy
    assert json.loads((tmp_path / "models" / "tm.json").read_text())["metrics"]["tflite_accuracy"] == 1.0


def test_check_finds_a_reading_the_defaults_got_wrong_and_says_so(tmp_path, capsys, photos, tm_float):
    """The same model with its labels on the command line looks like a workshop model (squash, x/255): the photos
    show that it is not, and the best reading is kept with the documented one's accuracy beside it."""
    data = tm_float
    check = labelled_by_the_snippet(tmp_path / "check", photos, data)
    (tmp_path / "model.tflite").write_bytes(data)
    code, out, err = piclassify(capsys, "import", "--tflite", tmp_path / "model.tflite", "--labels", "Red,Green,Blue",
                         "--name", "checked", "--out", tmp_path / "models", "--check", check, "--nothing", "off")
    assert code == 0, err
    assert "kept the best reading: centre-crop (nearest), x/127.5 - 1, rgb" in out
    assert "the documented one (squash (nearest), x/255, rgb) got" in out
    manifest = json.loads((tmp_path / "models" / "checked.json").read_text())
    assert (manifest["scaling"]["mode"], manifest["resize"], manifest["colour"]) == ("symmetric", "centre-crop", "rgb")
    code, out, err = piclassify(capsys, "import", "--tflite", tmp_path / "model.tflite", "--labels", "Red,Green,Blue",
                         "--scale", "0..255", "--name", "fixed", "--out", tmp_path / "models", "--check", check,
                         "--nothing", "off")
    assert code == 0, err
    assert out.count("%  ") == 6  # the scale the user gave is kept: 3 resizes x 2 channel orders
    assert json.loads((tmp_path / "models" / "fixed.json").read_text())["scaling"]["mean"] == [0.0]
