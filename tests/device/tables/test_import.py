"""``piclassify import``: a model exactly as the workshop's notebook exports it becomes a piclassify model.

The notebook trains a Keras Dense model on min-max scaled rows, converts it with TFLiteConverter
and saves the scaler as ``{"x_min": [...], "x_max": [...]}``. Here those files are made the same
way (TensorFlow is fine on this side); the import and every prediction use only the device's code.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.tensors import encode_features, output_probabilities, output_values

from conftest import tensorflow_loaded_by
from tests.helpers.cli import piclassify

pytestmark = pytest.mark.training


def workshop_export(folder, x, y, last_layer, loss):
    """Train a one-layer Keras model as the notebook does and save model.tflite + min-max.json in ``folder``."""
    import keras
    import tensorflow as tf

    folder.mkdir()
    x_min, x_max = x.min(axis=0), x.max(axis=0)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((x.shape[1],)), last_layer])
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(0.05))
    model.fit((x - x_min) / (x_max - x_min), y, epochs=30, batch_size=32, verbose=0)
    (folder / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    (folder / "min-max.json").write_text(json.dumps({"x_min": x_min.tolist(), "x_max": x_max.tolist()}))
    return folder, model


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The admission classifier (sigmoid), a three-class one (softmax) and the y = 2x + 1 regression."""
    import keras

    root = tmp_path_factory.mktemp("workshop")
    rng = np.random.default_rng(0)
    scores = rng.uniform(30, 100, (100, 2))
    line = np.arange(0, 12, 0.5)[:, np.newaxis]
    return {
        "binary": workshop_export(root / "binary", scores, (scores.sum(axis=1) > 130).astype("float32"),
                                  keras.layers.Dense(1, activation="sigmoid"), "binary_crossentropy"),
        "multiclass": workshop_export(root / "multiclass", scores, np.digitize(scores[:, 0], [55, 80]),
                                      keras.layers.Dense(3, activation="softmax"), "sparse_categorical_crossentropy"),
        "regression": workshop_export(root / "regression", line, 2 * line + 1, keras.layers.Dense(1), "mse"),
        "rows": scores[:10],
    }


def run(capsys, *args):
    """Exit code, stdout lines and stderr lines of ``piclassify ARGS``."""
    code, out, err = piclassify(capsys, *args)
    return code, out.splitlines(), err.splitlines()


def import_args(folder, out, *extra):
    return ["import", "--tflite", str(folder / "model.tflite"), "--min-max", str(folder / "min-max.json"),
            "--out", str(out), *extra]


def device_outputs(model_path, rows):
    """What the device computes for ``rows``: probabilities, or values for a regression model."""
    classifier = Classifier.load(model_path)
    m = classifier.manifest
    raw = np.concatenate([classifier.invoke(encode_features(row[np.newaxis], m)) for row in rows])
    return output_values(raw, m) if m.task == "regression" else output_probabilities(raw, m)


def keras_outputs(folder, model, rows):
    bounds = json.loads((folder / "min-max.json").read_text())
    return model.predict((rows - np.array(bounds["x_min"])) / (np.array(bounds["x_max"]) - bounds["x_min"]), verbose=0)


def test_the_admission_model_imports_and_predicts_what_keras_does(exports, tmp_path, capsys):
    folder, model = exports["binary"]
    code, out, err = run(capsys, *import_args(folder, tmp_path, "--labels", "not admitted,admitted",
                                              "--name", "admission", "--features", "exam1,exam2"))
    assert code == 0, err
    assert out[0] == f"wrote {tmp_path / 'admission.tflite'} and {tmp_path / 'admission.json'} " \
                     "(binary: not admitted, admitted; features exam1, exam2)"
    assert sha256_of(tmp_path / "admission.tflite") == sha256_of(folder / "model.tflite")  # the model, unchanged
    manifest = json.loads((tmp_path / "admission.json").read_text())
    assert manifest["table"] == {"features": ["exam1", "exam2"], "target": "admitted", "unit": "",
                                 "activation_in_model": True}
    assert manifest["metrics"] == {}  # nothing was measured here, so nothing is claimed

    rows = exports["rows"]
    positive = keras_outputs(folder, model, rows)[:, 0]  # the notebook's sigmoid output
    probabilities = device_outputs(tmp_path / "admission.tflite", rows)
    assert np.max(np.abs(probabilities[:, 1] - positive)) <= 1e-5
    code, out, _ = run(capsys, "predict", "--model", str(tmp_path / "admission.tflite"), "--values",
                       ",".join(str(v) for v in rows[0]))
    label = "admitted" if positive[0] >= 0.5 else "not admitted"
    assert code == 0 and out == [f"{label} ({max(positive[0], 1 - positive[0]):.2f})"]


def test_a_softmax_model_imports_as_multiclass(exports, tmp_path, capsys):
    folder, model = exports["multiclass"]
    code, _, err = run(capsys, *import_args(folder, tmp_path, "--labels", "low,mid,high", "--name", "levels"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "levels.json").read_text())
    assert (manifest["task"], manifest["labels"]) == ("multiclass", ["low", "mid", "high"])
    probabilities = device_outputs(tmp_path / "levels.tflite", exports["rows"])
    assert np.max(np.abs(probabilities - keras_outputs(folder, model, exports["rows"]))) <= 1e-5


def test_a_linear_model_without_labels_imports_as_regression_into_the_current_folder(exports, tmp_path, capsys,
                                                                                      monkeypatch):
    folder, model = exports["regression"]
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "import", "--tflite", str(folder / "model.tflite"), "--min-max",
                       str(folder / "min-max.json"), "--name", "line", "--unit", "m")
    assert code == 0, err
    assert json.loads((tmp_path / "line.json").read_text())["task"] == "regression"
    rows = np.array([[3.0], [13.0]])
    assert np.max(np.abs(device_outputs(tmp_path / "line.tflite", rows) - keras_outputs(folder, model, rows)[:, 0])) <= 1e-5
    code, out, err = run(capsys, "predict", "--model", "line.tflite", "--values", "13")
    assert code == 0 and out[0].endswith(" m") and err == ["piclassify: note: x1 = 13 is above the training maximum 11.5"]


@pytest.mark.parametrize("change, extra, message", [
    ({"x_min": [1, 2, 3], "x_max": [4, 5, 6]}, [], "{model} takes 2 feature(s) per row but {mm} has 3 x_min/x_max values"),
    ({"x_min": [1, 2], "x_max": [4]}, [], "{mm}: x_min has 2 values but x_max has 1"),
    ({"x_min": [1, "a"], "x_max": [4, 5]}, [], "{mm}: x_min must be a non-empty list of numbers within float32's "
                                              "range (+-3.4e+38)"),
    ({"x_min": [1, 2], "x_max": [4, 1.7e308]}, [], "{mm}: x_max must be a non-empty list of numbers within "
                                                   "float32's range (+-3.4e+38)"),
    ({"x_min": [-3e38, 2], "x_max": [3e38, 5]}, [], "{mm}: feature 1 spans -3e+38 to 3e+38, wider than float32 "
                                                    "can scale"),
    ({"x_min": [5, 2], "x_max": [1, 5]}, [], "{mm}: feature 1 has x_min 5 above x_max 1"),
    ({"low": [1, 2]}, [], '{mm}: expected {{"x_min": [...], "x_max": [...]}} as the workshop saves it'),
    (None, ["--labels", "a,b,c"], "{model} has 1 output(s) but --labels gives 3 name(s) (binary: 1 output and "
                                  "2 labels; multiclass: one output per label)"),
    (None, [], "{model} ends in sigmoid with 1 output(s): a classifier; give its --labels"),
    (None, ["--labels", "no,yes", "--features", "a,b,c"], "--features names 3 feature(s) but {model} takes 2"),
    (None, ["--labels", "no,yes", "--unit", "kg"], "--unit is for a regression model; {model} is binary"),
])
def test_a_mismatch_is_one_line_exit_2_and_writes_nothing(exports, tmp_path, capsys, change, extra, message):
    folder, _ = exports["binary"]
    min_max = folder / "min-max.json"
    if change is not None:
        min_max = tmp_path / "mm.json"
        min_max.write_text(json.dumps(change))
    out = tmp_path / "out"
    code, _, err = run(capsys, "import", "--tflite", str(folder / "model.tflite"), "--min-max", str(min_max),
                       "--name", "admission", "--out", str(out), *extra)
    assert code == 2 and not out.exists()
    assert err == [f"piclassify: error: {message.format(mm=min_max, model=folder / 'model.tflite')}"]


def test_a_file_that_is_not_a_model_is_refused(exports, tmp_path, capsys):
    folder, _ = exports["binary"]
    code, _, err = run(capsys, "import", "--tflite", str(folder / "min-max.json"), "--min-max",
                       str(folder / "min-max.json"), "--labels", "no,yes", "--name", "x", "--out", str(tmp_path))
    assert code == 2 and len(err) == 1 and err[0].startswith(f"piclassify: error: {folder / 'min-max.json'}: not a model")


def test_importing_never_loads_tensorflow(exports, tmp_path):
    folder, _ = exports["binary"]
    assert tensorflow_loaded_by(import_args(folder, tmp_path, "--labels", "no,yes", "--name", "m")) == []


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a\nb", "", ".hidden"])
def test_a_name_that_is_not_a_plain_file_name_is_refused_and_nothing_is_written(exports, tmp_path, capsys, name):
    folder, _ = exports["binary"]
    out = tmp_path / "out"
    code, _, err = run(capsys, *import_args(folder, out, "--labels", "no,yes", "--name", name))
    assert code == 2 and len(err) == 1 and "a model name is 1-64 letters, digits" in err[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda path: os.mkfifo(path), "not a regular file (a FIFO)"),
    (lambda path: Path("/dev/zero"), "not a regular file (a character device)"),
    (lambda path: path.write_text('{"x_min": [' + "9" * 400 + '], "x_max": [1]}'), "within float32's range"),
    (lambda path: path.write_text("[" * 100_000 + "]" * 100_000), "not valid JSON (RecursionError"),
    (lambda path: path.write_text('{"x_min": [NaN], "x_max": [1]}'), "not valid JSON"),
    (lambda path: path.write_bytes(b" " * (2 << 20)), "larger than 1024 KiB; not a min-max.json"),
])
def test_a_min_max_file_that_would_hang_or_blow_up_is_one_line(exports, tmp_path, capsys, make, message):
    folder, _ = exports["binary"]
    made = make(tmp_path / "mm.json")
    path = made if isinstance(made, Path) else tmp_path / "mm.json"
    code, _, err = run(capsys, "import", "--tflite", str(folder / "model.tflite"), "--min-max", str(path),
                       "--labels", "no,yes", "--name", "m", "--out", str(tmp_path / "out"))
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_cannot_be_written_is_one_line_and_leaves_nothing(exports, tmp_path, capsys):
    folder, _ = exports["binary"]
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    for out in (in_the_way, Path("/proc/piclassify")):
        code, _, err = run(capsys, *import_args(folder, out, "--labels", "no,yes", "--name", "m"))
        assert code == 2 and len(err) == 1 and f"{out}: cannot write there" in err[0], err


def test_a_failed_import_leaves_no_half_model(exports, tmp_path, capsys, monkeypatch):
    """The device's own load check fails after the files are staged: nothing reaches --out."""
    import piclassify.device.tables.workshop_import as table_import

    folder, _ = exports["binary"]

    def refuse(*args, **kwargs):
        raise table_import.WorkshopImportError("the device refused it")

    monkeypatch.setattr(table_import.Classifier, "load", refuse)
    out = tmp_path / "out"
    code, _, err = run(capsys, *import_args(folder, out, "--labels", "no,yes", "--name", "m"))
    assert code == 2 and err == ["piclassify: error: the device refused it"]
    assert list(out.iterdir()) == []  # no m.tflite, no m.json, no staging folder


def test_predict_csv_on_a_fifo_is_one_line_not_a_hang(exports, tmp_path, capsys):
    folder, _ = exports["binary"]
    assert run(capsys, *import_args(folder, tmp_path, "--labels", "no,yes", "--name", "m"))[0] == 0
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "predict", "--model", str(tmp_path / "m.tflite"), "--csv", str(fifo))
    assert code == 2 and err == [f"piclassify: error: {fifo}: cannot read it: not a regular file (a FIFO)"]
