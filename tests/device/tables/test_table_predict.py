"""``piclassify predict --values/--csv``: the workshop's admission model on the Pi, with no TensorFlow.

Two exam scores in, "admitted (0.87)" out; values outside the training bounds still predict, with a
note; anything that is not one finite number per feature is one line and exit code 2.
"""

import csv
import json
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest, Scaling, Table, TensorSpec
from piclassify.shared.contract.tensors import encode_features, output_probabilities, predicted_indices
from piclassify.shared.errors import ManifestError

from tests.conftest import require_dataset
from tests.helpers.cli import piclassify
from tests.helpers.manifests import digits_like

ADMISSION = MODELS_DIR / "admission.tflite"
ANSWER = r"(not admitted|admitted) \(\d\.\d\d\)"


def run(capsys, *args):
    """Exit code, stdout lines and stderr lines of ``piclassify ARGS``."""
    code, out, err = piclassify(capsys, *args)
    return code, out.splitlines(), err.splitlines()


def table_like(**changes) -> Manifest:
    """The admission model's shape: two float features in (stored as 1x2x1), one logit out."""
    manifest = Manifest(
        name="admission", task="binary", labels=("not admitted", "admitted"), height=1, width=2, channels=1,
        colour="gray", polarity="any", scaling=Scaling("minmax", (30.0, 30.0), (100.0, 100.0)), resize="squash",
        input=TensorSpec((2,), "float32"), output=TensorSpec((1,), "float32"), model_file="admission.tflite",
        sha256="0" * 64, table=Table(("exam1", "exam2"), "admitted"))
    return replace(manifest, **changes)


def test_a_table_section_round_trips_and_image_manifests_have_none():
    manifest = table_like()
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest
    image = json.loads(digits_like().to_json())
    assert "table" not in image and Manifest.from_dict(image).table is None  # manifests from before tables still load


@pytest.mark.parametrize("changes, message", [
    ({"task": "regression", "labels": (), "table": None}, "a regression model needs a table section"),
    ({"task": "regression", "labels": ("a",)}, "a regression model has no labels"),
    ({"scaling": Scaling("minmax", (30.0,), (100.0,))}, "needs minmax scaling with 2 minimum and maximum values"),
    ({"input": TensorSpec((3,), "float32")}, "needs input shape (2,) stored as 1x2x1, not (3,) as 1x2x1"),
    ({"table": Table(("exam1", "exam1"), "admitted")}, "table features must be distinct names"),
])
def test_an_inconsistent_table_manifest_is_refused(changes, message):
    with pytest.raises(ManifestError, match=re.escape(message)):
        table_like(**changes)


def test_the_bundled_admission_model_matches_its_manifest():
    classifier = Classifier.load(ADMISSION)  # checks sha256, shapes, dtypes, quantization
    m = classifier.manifest
    assert (m.name, m.task, m.labels) == ("admission", "binary", ("not admitted", "admitted"))
    assert m.table.features == ("exam1", "exam2") and m.table.target == "admitted"
    assert m.input.shape == (2,) and m.input.dtype == "float32" and m.scaling.mode == "minmax"
    assert m.metrics["model_bytes"] == ADMISSION.stat().st_size and m.metrics["test_rows"] == 20
    assert m.metrics["keras_tflite_max_abs_diff"] <= 1e-5


@pytest.mark.dataset
def test_the_bundled_admission_model_scores_what_its_manifest_says_on_its_held_out_rows():
    """The trainer's seeded split gives the 20 held-out rows back: the bounds are the other rows', and the
    device's code scores exactly the manifest's accuracy on the 20."""
    from piclassify.trainer.tables.data import held_out_split, make_target, read_table  # NumPy only, no TensorFlow

    classifier = Classifier.load(ADMISSION)
    m = classifier.manifest
    data = read_table(require_dataset("admission", "admission.csv"), "admitted")
    target = make_target(data, "binary")
    train, test = held_out_split(target, m.training["held_out_fraction"], m.training["seed"])
    assert m.scaling.minimum == tuple(data.x[train].min(axis=0)) and m.scaling.maximum == tuple(data.x[train].max(axis=0))
    raw = np.concatenate([classifier.invoke(encode_features(row[np.newaxis], m)) for row in data.x[test]])
    accuracy = float(np.mean(predicted_indices(output_probabilities(raw, m), m) == target.y[test]))
    assert accuracy == pytest.approx(m.metrics["tflite_accuracy"], abs=1e-5)


def test_values_in_order_or_by_name_give_the_label_and_its_score(capsys):
    code, out, err = run(capsys, "predict", "--model", "admission", "--values", "45.3,85.1")
    assert code == 0 and err == [] and len(out) == 1
    assert re.fullmatch(ANSWER, out[0]) and out[0].startswith("admitted (")  # the workshop's 45 and 85: admitted
    assert run(capsys, "predict", "--model", "admission", "--values", "exam2=85.1, exam1=45.3")[1] == out


def test_a_value_outside_the_training_bounds_still_predicts_with_a_note(capsys):
    minimum = Classifier.load(ADMISSION).manifest.scaling.minimum[0]
    code, out, err = run(capsys, "predict", "--model", "admission", "--values", "20,85")
    assert code == 0 and len(out) == 1
    assert err == [f"piclassify: note: exam1 = 20 is below the training minimum {minimum:g}"]


def test_json_gives_the_inputs_label_probabilities_and_notes(capsys):
    code, out, _ = run(capsys, "predict", "--model", "admission", "--json", "--values", "45.3,120")
    record = json.loads(out[0])
    assert code == 0 and record["inputs"] == {"exam1": 45.3, "exam2": 120.0}
    assert record["label"] in ("not admitted", "admitted") and record["top"][0] == [record["label"], record["score"]]
    assert sum(score for _, score in record["top"]) == pytest.approx(1.0, abs=1e-3)
    assert (record["schema"], record["reason"]) == (1, None)
    assert record["notes"][0].startswith("exam2 = 120 is above the training maximum")


@pytest.mark.dataset
def test_csv_rows_are_read_by_header_and_extra_columns_are_ignored(tmp_path, capsys):
    path = require_dataset("admission", "admission.csv")
    code, out, _ = run(capsys, "predict", "--model", "admission", "--csv", str(path))
    assert code == 0 and len(out) == 100
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by_values = run(capsys, "predict", "--model", "admission", "--values", f"{rows[0]['exam1']},{rows[0]['exam2']}")[1]
    assert out[0] == f"{path} row 1: {by_values[0]}"
    # the same rows with the columns moved and one more text column: the same answers, row by row
    moved = tmp_path / "moved.csv"
    moved.write_text("admitted,exam2,name,exam1\n"
                     + "".join(f"{r['admitted']},{r['exam2']},x,{r['exam1']}\n" for r in rows))
    code, out_moved, _ = run(capsys, "predict", "--model", "admission", "--csv", str(moved))
    assert code == 0 and [line.replace(str(moved), str(path), 1) for line in out_moved] == out


def test_a_bad_csv_row_is_one_line_and_the_other_rows_still_predict(tmp_path, capsys):
    path = tmp_path / "scores.csv"
    path.write_text("exam2,exam1\n85.1,45.3\n70,x\n60,60\n")
    code, out, err = run(capsys, "predict", "--model", "admission", "--csv", str(path))
    assert code == 2 and len(out) == 2
    assert err == [f"piclassify: error: {path}: row 2 (line 3), column 'exam1': 'x' is not a number"]


@pytest.mark.parametrize("args, message", [
    (["--values", "45.3"], "--values '45.3': 1 value(s), but the model takes 2 (exam1, exam2)"),
    (["--values", "45,85,3"], "--values '45,85,3': 3 value(s), but the model takes 2 (exam1, exam2)"),
    (["--values", "45.3,abc"], "--values: exam2: 'abc' is not a number"),
    (["--values", "nan,85"], "--values: exam1: 'nan' is not a finite number"),
    (["--values", "45,inf"], "--values: exam2: 'inf' is not a finite number"),
    (["--values", "1e300,85"], "--values: exam1: '1e300' is beyond float32's range (+-3.4e+38)"),
    (["--values", "45,"], "--values: exam2 is empty"),
    (["--values", "exam1=45,exam3=85"], "--values: unknown feature 'exam3'; the model takes 2 (exam1, exam2)"),
    (["--values", "exam1=45"], "--values: no value for exam2; the model takes 2 (exam1, exam2)"),
    (["--values", "exam1=45,85"], "--values 'exam1=45,85': give every value as NAME=VALUE, or none"),
    (["--csv", "no-such.csv"], "no-such.csv: file not found"),
    (["--values", "1,2", "photo.jpg"], "give image files, or --values/--csv for a table model, not both"),
])
def test_bad_values_are_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, "predict", "--model", "admission", *args)
    assert code == 2 and out == []
    assert err == [f"piclassify: error: {message}"]


def test_values_for_an_image_model_are_refused(capsys):
    code, _, err = run(capsys, "predict", "--model", "digits", "--values", "1,2")
    assert code == 2 and err == ["piclassify: error: digits.tflite: an image model; --values and --csv need a "
                                 "table model (see `piclassify models`)"]


def test_a_table_prediction_imports_neither_tensorflow_nor_opencv_nor_pillow():
    code = ("import sys; from piclassify.device.commands.cli import main; "
            "rc = main(['predict', '--model', 'admission', '--values', '45.3,85.1']); "
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'cv2', 'PIL'))); "
            "sys.exit(rc)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "LOADED []" in completed.stdout
