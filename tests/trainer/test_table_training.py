"""``piclassify-train table``: a CSV of numbers in, a min-max contract model out, measured on held-out rows.

The workshop's first exercises, on the same contract as the image models: linear regression on
y = 2x + 1, and the admission classifier (two exam scores -> admitted or not).
"""

import csv
import json

import numpy as np
import pytest

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.contract.tensors import encode_features, output_probabilities, output_values
from piclassify.trainer.cli import main
from piclassify.trainer.tables import recipe as table_recipe
from piclassify.trainer.tables.data import infer_kind

from tests.conftest import require_dataset


def write_csv(path, header, rows):
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def train(tmp_path, csv_path, *options):
    """Run the command; return its exit code and the manifest it wrote (or None)."""
    code = main(["table", str(csv_path), "--out", str(tmp_path / "out"), *options])
    name = options[options.index("--name") + 1]
    manifest = tmp_path / "out" / f"{name}.json"
    return code, json.loads(manifest.read_text()) if manifest.exists() else None


@pytest.fixture
def spy(monkeypatch):
    """Catches the Keras model and the held-out rows the recipe scores, to compare them independently."""
    seen = {}
    original = table_recipe.held_out_metrics

    def record(keras_model, model_path, x, y, test_set):
        seen.update(keras=keras_model, path=model_path, x=x, y=y)
        return original(keras_model, model_path, x, y, test_set)

    monkeypatch.setattr(table_recipe, "held_out_metrics", record)
    return seen


@pytest.fixture(scope="module")
def admission_csv():
    return require_dataset("admission", "admission.csv")


@pytest.mark.training
@pytest.mark.dataset
def test_admission_is_a_binary_model_with_its_bounds_features_and_held_out_accuracy(tmp_path, admission_csv, spy):
    code, manifest = train(tmp_path, admission_csv, "--target", "admitted", "--name", "admission")
    assert code == 0
    assert manifest["task"] == "binary" and manifest["labels"] == ["not admitted", "admitted"]
    assert manifest["table"] == {"features": ["exam1", "exam2"], "target": "admitted", "unit": "",
                                 "activation_in_model": False}
    assert manifest["input"]["shape"] == [2] and manifest["input"]["dtype"] == "float32"
    metrics = manifest["metrics"]
    assert metrics["test_rows"] == 20 and metrics["tflite_accuracy"] >= 0.85

    # the bounds are the training rows' own, never the held-out rows'
    data = np.loadtxt(admission_csv, delimiter=",", skiprows=1)[:, :2]
    held_out = np.array([any(np.array_equal(row, h) for h in spy["x"]) for row in data])
    assert held_out.sum() == 20
    assert manifest["scaling"]["minimum"] == data[~held_out].min(axis=0).tolist()
    assert manifest["scaling"]["maximum"] == data[~held_out].max(axis=0).tolist()

    # the manifest's accuracy is what the device's code scores on those 20 rows
    classifier = Classifier.load(spy["path"])
    raw = np.concatenate([classifier.invoke(encode_features(row[np.newaxis], classifier.manifest)) for row in spy["x"]])
    predicted = output_probabilities(raw, classifier.manifest).argmax(axis=1)
    assert np.mean(predicted == spy["y"]) == metrics["tflite_accuracy"]


def tflite_and_keras(spy):
    """Both models' outputs on every held-out row: TFLite through the device's code, Keras on its own."""
    classifier = Classifier.load(spy["path"])
    manifest = classifier.manifest
    raw = np.concatenate([classifier.invoke(encode_features(row[np.newaxis], manifest)) for row in spy["x"]])
    keras_raw = spy["keras"].predict(scale_pixels(spy["x"], manifest.scaling), verbose=0)
    if manifest.task == "regression":
        return output_values(raw, manifest), output_values(keras_raw, manifest)
    return output_probabilities(raw, manifest), output_probabilities(keras_raw, manifest)


@pytest.mark.training
@pytest.mark.dataset
@pytest.mark.parametrize("arch", ["dense", "mlp"])
def test_float32_tflite_equals_keras_on_every_held_out_row(tmp_path, admission_csv, spy, arch):
    code, manifest = train(tmp_path, admission_csv, "--target", "admitted", "--name", "a", "--arch", arch)
    assert code == 0 and manifest["training"]["arch"] == arch
    tflite, keras = tflite_and_keras(spy)
    assert np.max(np.abs(tflite - keras)) <= 1e-5
    assert manifest["metrics"]["keras_tflite_max_abs_diff"] <= 1e-5


@pytest.mark.training
@pytest.mark.dataset
def test_int8_records_the_input_quantization_and_agrees_with_keras(tmp_path, admission_csv, spy):
    code, manifest = train(tmp_path, admission_csv, "--target", "admitted", "--name", "a8", "--quantize", "int8",
                           "--labels", "rejected,accepted")
    assert code == 0 and manifest["labels"] == ["rejected", "accepted"]
    assert manifest["input"]["dtype"] == "int8" and manifest["input"]["quantization"]["scale"] > 0
    tflite, keras = tflite_and_keras(spy)
    assert np.max(np.abs(tflite - keras)) < 0.05
    assert manifest["metrics"]["keras_tflite_agreement"] >= 0.95


@pytest.mark.training
def test_the_workshops_linear_regression_learns_y_equals_2x_plus_1(tmp_path, spy):
    """Like the workshop's first notebook: asked for 13 and -5 (outside the data) it says about 27 and -9."""
    rows = [(x, 2 * x + 1) for x in np.arange(0, 12.5, 0.5)]
    code, manifest = train(tmp_path, write_csv(tmp_path / "line.csv", ["x", "y"], rows),
                           "--target", "y", "--name", "line", "--unit", "m")
    assert code == 0
    assert manifest["task"] == "regression" and manifest["labels"] == []
    assert manifest["table"]["unit"] == "m" and manifest["output"]["shape"] == [1]
    assert manifest["metrics"]["tflite_mae"] < 0.01
    tflite, keras = tflite_and_keras(spy)
    assert np.max(np.abs(tflite - keras)) <= 1e-5 * max(1.0, np.max(np.abs(keras)))
    classifier = Classifier.load(spy["path"])
    for x, expected in ((13.0, 27.0), (-5.0, -9.0)):
        raw = classifier.invoke(encode_features(np.array([[x]]), classifier.manifest))
        assert output_values(raw, classifier.manifest)[0] == pytest.approx(expected, abs=0.05)


@pytest.mark.training
def test_text_classes_make_a_multiclass_model_in_alphabetical_order(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"{x:.3f}", f"{y:.3f}", ("small", "medium", "large")[int(x)]) for x, y in rng.uniform(0, 3, (90, 2))]
    code, manifest = train(tmp_path, write_csv(tmp_path / "sizes.csv", ["length", "noise", "size"], rows),
                           "--target", "size", "--name", "sizes")
    assert code == 0
    assert manifest["task"] == "multiclass" and manifest["labels"] == ["large", "medium", "small"]
    assert manifest["output"]["shape"] == [3] and manifest["metrics"]["tflite_accuracy"] >= 0.8


@pytest.mark.parametrize("cells, kind", [
    (["0", "1", "1", "0"], "binary"),
    (["no", "yes", "no"], "binary"),
    (["3", "1", "2", "3"], "multiclass"),
    (["cat", "dog", "bird"], "multiclass"),
    (["1.5", "2", "7"], "regression"),
    ([str(v) for v in range(11)], "regression"),  # more than 10 distinct integers
])
def test_the_kind_is_inferred_from_the_target_values(cells, kind):
    assert infer_kind(cells) == kind


GOOD_ROWS = [(30 + i, 80 - i, i % 2) for i in range(12)]


@pytest.mark.parametrize("rows, options, message", [
    (GOOD_ROWS, ["--target", "admited"], "no column 'admited' (columns: exam1, exam2, admitted)"),
    (GOOD_ROWS[:2] + [(45, "abc", 1)] + GOOD_ROWS[3:], [], "row 3 (line 4), column 'exam2': 'abc' is not a number"),
    (GOOD_ROWS[:4] + [("", 50, 0)] + GOOD_ROWS[5:], [], "row 5 (line 6), column 'exam1' is empty"),
    (GOOD_ROWS[:6] + [("inf", 50, 0)] + GOOD_ROWS[7:], [], "row 7 (line 8), column 'exam1': 'inf' is not a finite number"),
    (GOOD_ROWS[:1] + [(45, 50)] + GOOD_ROWS[2:], [], "row 2 (line 3) has 2 cells; the header has 3"),
    ([(r[0], r[1], 1) for r in GOOD_ROWS], [], "column 'admitted' holds a single class (1); a classifier needs at least two"),
    (GOOD_ROWS[:9], [], "9 data rows; at least 10 are needed"),
    (GOOD_ROWS, ["--kind", "regression", "--labels", "no,yes"], "--labels names classes, but 'admitted' is a regression"),
    (GOOD_ROWS, ["--labels", "a,b,c"], "--labels gives 3 names but column 'admitted' holds 2 classes (0, 1)"),
])
def test_a_bad_csv_is_one_line_naming_the_row_and_column_and_exit_2(tmp_path, capsys, rows, options, message):
    path = write_csv(tmp_path / "bad.csv", ["exam1", "exam2", "admitted"], rows)
    options = options if "--target" in options else ["--target", "admitted", *options]
    code, manifest = train(tmp_path, path, "--name", "bad", *options)
    err = capsys.readouterr().err
    assert code == 2 and manifest is None
    assert err.count("\n") == 1 and err.startswith("piclassify-train: error: ") and message in err
