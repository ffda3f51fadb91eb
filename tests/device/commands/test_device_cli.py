"""The ``piclassify`` command: what users type, what they read, and the exit codes (0 ok, 2 bad input)."""

import json
import re
import shutil
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from piclassify.device.commands.cli import main
from piclassify.device.commands.demo import print_next_steps, sample_shows
from piclassify.device.core.model_files import MODELS_DIR, SAMPLES_DIR, bundled_model_paths
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.files.imagefile import read_image
from piclassify.shared.framing.model_input import frame_for_model
from piclassify.shared.inference.runtime import load_runtime

from conftest import copy_model, tensorflow_loaded_by


def digit_samples():
    return sorted(SAMPLES_DIR.glob("digits-*.jpg"))


def expected_label(path):
    return path.stem.split("-", 2)[2]


def test_predict_prints_label_score_top3_and_latency(capsys):
    assert main(["predict", "--model", "digits", *map(str, digit_samples())]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(digit_samples())
    for path, line in zip(digit_samples(), lines):
        label = re.escape(expected_label(path))
        # the winner and its score open the top-3, then two more labels by score, then the latency
        assert re.fullmatch(rf"{re.escape(str(path))}: {label} \((\d\.\d\d)\)  top-3: {label} \1, \d [01]\.\d\d, "
                            rf"\d [01]\.\d\d  \d+\.\d ms", line), line


RESULT_KEYS = ["schema", "time", "model", "source", "frame", "label", "index", "score", "top", "reason", "latency_ms"]


def test_predict_json_is_one_object_per_image_in_the_result_schema(capsys):
    assert main(["predict", "--model", "digits", "--json", str(SAMPLES_DIR / "digits-*.jpg")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in records] == [expected_label(p) for p in digit_samples()]
    assert [r["source"] for r in records] == [str(p) for p in digit_samples()]
    for record in records:
        assert list(record) == RESULT_KEYS
        assert (record["schema"], record["model"], record["reason"]) == (1, "digits", None)
        assert record["index"] == int(record["label"]) and record["top"][0] == [record["label"], record["score"]]
        assert len(record["top"]) == 3 and record["top"][0][1] >= record["top"][1][1] >= record["top"][2][1]


def test_debug_dir_saves_the_exact_model_input(tmp_path, capsys):
    sample = digit_samples()[0]
    assert main(["predict", "--model", "digits", "--debug-dir", str(tmp_path), str(sample)]) == 0
    saved = np.asarray(Image.open(tmp_path / f"{sample.stem}-model-input.png"))
    framed = frame_for_model(read_image(sample), load_manifest(MODELS_DIR / "digits.tflite"))
    np.testing.assert_array_equal(saved, framed.image)  # the 28x28 image the model reads, not a step before it
    assert (tmp_path / f"{sample.stem}-frame.png").is_file()


def test_a_corrupt_image_is_one_line_exit_2_and_the_others_are_still_classified(tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    assert main(["predict", "--model", "digits", str(digit_samples()[0]), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"piclassify: error: {bad}: not a readable image (UnidentifiedImageError)"
    assert len(captured.out.splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["predict", "--model", "nosuchmodel", "x.jpg"], "nosuchmodel: no such model file or bundled model"),
    (["predict", "--model", "digits", "nothing-here.png"], "nothing-here.png: no such image, folder or glob match"),
    (["run", "--model", "digits", "--source", "/dev/video63", "--count", "1"], "/dev/video63"),
    (["run", "--model", "digits", "--source", "clip-typo.mp4"], "clip-typo.mp4: no such video file"),
    (["run", "--model", "digits", "--every", "inf"], "argument --every: inf is too large: at most 86,400"),
    (["run", "--model", "digits", "--max-fps", "nan"], "argument --max-fps: nan is not a number from 0.001 to 1,000"),
    (["run", "--model", "digits", "--min-score", "2"], "argument --min-score: 2 is too large: at most 1"),
    (["predict", "--model", "digits", "--threads", "1000", "x.jpg"], "argument --threads: 1000 is too large: at most 64"),
    (["teach", "pets", "--from", "x", "--per-class", "1"], "argument --per-class: 1 is too small: at least 2"),
    (["teach", "pets", "--from", "x", "--per-class", "2000000"], "--per-class: 2000000 is too large: at most 1,000,000"),
    (["predict", "--modle", "digits", "x.jpg"], "piclassify predict: error: unrecognized arguments: --modle (did you "
                                                "mean --model?)"),
    (["run", "--modle", "digits"], "piclassify run: error: unrecognized arguments: --modle (did you mean --model?)"),
    (["predict", "--model", "digits", "--photos", "x", "y.jpg"], "piclassify predict: error: unrecognized arguments: "
                                                                 "--photos"),
])
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's own exit, for arguments it refuses
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def model_copy(tmp_path):
    return copy_model("digits", tmp_path)


def test_a_manifest_that_does_not_match_its_model_is_refused(model_copy, capsys):
    manifest = json.loads(model_copy.with_suffix(".json").read_text())
    manifest["output"]["quantization"]["zero_point"] += 1
    model_copy.with_suffix(".json").write_text(json.dumps(manifest))
    assert main(["info", str(model_copy)]) == 2
    assert "model output quantization" in capsys.readouterr().err


def test_a_file_that_is_not_a_model_is_refused(model_copy, capsys):
    model_copy.write_bytes(b"this is a text file, not a flatbuffer")
    manifest = json.loads(model_copy.with_suffix(".json").read_text())
    manifest["sha256"] = sha256_of(model_copy)
    model_copy.with_suffix(".json").write_text(json.dumps(manifest))
    assert main(["predict", "--model", str(model_copy), str(digit_samples()[0])]) == 2
    assert "digits.tflite: not a model" in capsys.readouterr().err


def test_run_classifies_an_image_folder_then_stops(tmp_path, capsys):
    for path in digit_samples():
        shutil.copy(path, tmp_path)
    assert main(["run", "--model", "digits", "--source", str(tmp_path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in records] == list(range(len(digit_samples())))
    assert [r["label"] for r in records] == [expected_label(p) for p in digit_samples()]


@pytest.mark.parametrize("as_json", [False, True])
def test_run_on_photo_files_prints_a_line_per_file_even_when_nothing_stays_in_view(tmp_path, capsys, as_json):
    """Twelve blank sheets are twelve answers; "only when it starts" is for a camera's stream of frames."""
    for number in range(12):
        shutil.copy(SAMPLES_DIR / "nothing-2-paper.jpg", tmp_path / f"blank-{number:02}.jpg")
    shutil.copy(digit_samples()[0], tmp_path / "blank-06.jpg")  # a 7 among them
    assert main(["run", "--model", "digits", "--source", str(tmp_path)] + ["--json"] * as_json) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12
    said = [json.loads(line)["label"] for line in lines] if as_json else [line.split(" ", 2)[2] for line in lines]
    if as_json:
        assert said == [None] * 6 + ["7"] + [None] * 5
    else:
        assert all(text.startswith(f"{tmp_path}/blank-{n:02}.jpg: ") for n, text in enumerate(said))
        assert sum("nothing in view" in text for text in said) == 11


def test_run_min_score_and_on_change_are_decided_by_the_loop(tmp_path, capsys):
    for name in ("a", "b", "c"):
        shutil.copy(digit_samples()[0], tmp_path / f"{name}.jpg")  # the same 7, three times
    shutil.copy(digit_samples()[1], tmp_path / "d.jpg")
    assert main(["run", "--model", "digits", "--source", str(tmp_path), "--json", "--on-change"]) == 0
    assert [json.loads(line)["source"][-5:] for line in capsys.readouterr().out.splitlines()] == ["a.jpg", "d.jpg"]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(digit_samples()[0], mixed / "a.jpg")  # a clear 7: scores about 1.0
    sheet = np.full((480, 640, 3), 210, np.uint8)  # a percent sign on paper: written, but no digit
    cv2.putText(sheet, "%", (220, 330), cv2.FONT_HERSHEY_SIMPLEX, 7, (30, 30, 30), 14)
    cv2.imwrite(str(mixed / "b.png"), sheet)  # read as some digit, less surely than the 7 (by how much: the runtime's)
    assert main(["predict", "--model", "digits", "--json", str(mixed / "a.jpg"), str(mixed / "b.png")]) == 0
    seven, percent = (json.loads(line)["score"] for line in capsys.readouterr().out.splitlines())
    assert percent < seven
    between = f"{(seven + percent) / 2:.6f}"
    assert main(["run", "--model", "digits", "--source", str(mixed), "--json", "--min-score", between]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"][-5:] for r in records] == ["a.jpg"]


def test_models_lists_each_bundled_model_with_its_measured_accuracy(capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    for path in bundled_model_paths():
        accuracy = json.loads(path.with_suffix(".json").read_text())["metrics"]["tflite_accuracy"]
        assert f"{100 * accuracy:.2f}%" in rows[path.stem]


def test_info_shows_contract_and_the_runtime_in_use(capsys):
    assert main(["info", "digits"]) == 0
    out = capsys.readouterr().out
    runtime = load_runtime()
    assert f"runtime: {runtime.name} {runtime.version}" in out
    assert "28x28x1 gray, int8" in out and "resize object" in out


def test_info_shows_nested_metrics_as_indented_rows_not_python_dicts(capsys):
    assert main(["info", "catsdogs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any("{'" in line or "'}" in line for line in lines)
    start = next(n for n, line in enumerate(lines) if line.startswith("        metrics: "))
    metrics = load_manifest(MODELS_DIR / "catsdogs.npz").metrics
    assert f"tflite_accuracy {metrics['tflite_accuracy']}" in lines[start]
    assert f"test_set {metrics['test_set']}" in lines[start]
    assert lines[start + 1].startswith(" " * 17 + "nothing_in_view: empty_scenes 400, ")
    assert lines[start + 2].startswith(" " * 19 + "held_out_kinds: worst ")


def test_demo_without_a_camera_classifies_the_bundled_samples(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setattr("piclassify.device.core.sources.glob.glob", lambda pattern: [])
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "no camera found" in out
    for path in digit_samples():
        assert f"  right  {path.name} ({expected_label(path)}): {expected_label(path)} (" in out
    assert "admission-scores.csv row 2 (exam1 34.6, exam2 41.2): not admitted (" in out  # the workshop's app
    sections = {part.split(" ", 1)[0]: part for part in out.split("\n\n")[1:]}
    empty = sorted(SAMPLES_DIR.glob("nothing-*.jpg"))
    assert [path.name for path in empty] == ["nothing-1-tabletop.jpg", "nothing-2-paper.jpg"]
    for model in ("digits", "fashion", "catsdogs"):  # an empty table and a blank sheet: no confident guess
        for path in empty:
            assert f"  right  {path.name} (nothing): nothing in view (" in sections[model], sections[model]
        samples = len(list(SAMPLES_DIR.glob(f"{model}-*.jpg"))) + len(empty)
        right = sections[model].count("\n  right  ")
        assert f"\n  {right} of {samples} right (what each photo shows is in its name)" in sections[model]
        assert right + sections[model].count("\n  WRONG  ") == samples
    assert "nothing-" not in sections["admission"]
    assert " run --model digits --source auto " in out.rsplit("\n\nnext:\n", 1)[1]  # no camera here: try one


@pytest.mark.parametrize("name, shows", [
    ("fashion-1-t-shirt-top.jpg", "T-shirt/top"), ("fashion-4-shirt.jpg", "Shirt"), ("catsdogs-1-cat.jpg", "cats"),
    ("digits-2-2.jpg", "2"), ("nothing-1-tabletop.jpg", None), ("fashion-9-hat.jpg", False),
])
def test_a_sample_s_name_says_what_it_shows(name, shows):
    labels = {"fashion": load_manifest(MODELS_DIR / "fashion.tflite").labels, "catsdogs": ("cats", "dogs"),
              "digits": tuple("0123456789"), "nothing": ()}[name.split("-")[0]]
    assert sample_shows(name, labels) == shows


def test_the_demo_s_next_steps_name_piclassify_as_this_shell_runs_it(tmp_path, monkeypatch, capsys):
    """After scripts/demo the command is .venv-device/bin/piclassify, which no PATH finds until it is activated."""
    venv = tmp_path / ".venv-device" / "bin"
    venv.mkdir(parents=True)
    (venv / "piclassify").write_text("#!/bin/sh\n")
    (venv / "piclassify").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    print_next_steps(camera=True)
    out = capsys.readouterr().out
    assert "`. .venv-device/bin/activate` makes it plain `piclassify`" in out
    assert "\n  .venv-device/bin/piclassify models " in out and "--source auto" not in out
    monkeypatch.setenv("PATH", f"{venv}:/usr/bin:/bin")
    print_next_steps(camera=False)
    out = capsys.readouterr().out
    assert "\n  piclassify models " in out and "\n  piclassify run --model digits --source auto " in out
    assert "activate" not in out


@pytest.mark.parametrize("model", ["digits", "fashion", "catsdogs"])
def test_a_device_prediction_never_imports_tensorflow(model):
    """Each model with the ImageNet backbone too: the Pi has no TensorFlow, and nothing here may want it."""
    samples = sorted(SAMPLES_DIR.glob(f"{model}-*.jpg"))
    assert tensorflow_loaded_by(["predict", "--model", model, *map(str, samples)]) == []


def test_bench_reports_every_stage_and_throughput_for_each_thread_count(capsys):
    assert main(["bench", "--model", "digits", "--frames", "30", "--threads", "1,2", "--no-cold-start"]) == 0
    out = capsys.readouterr().out
    for stage in ("capture", "preprocess", "invoke", "postprocess", "pre+post"):
        assert out.count(f"\n{stage}") == 2
    assert out.count("30 frames in") == 2 and "frames/s" in out and "peak RSS" in out
    assert ", 1 thread\n" in out and ", 2 threads\n" in out
    summary = out[out.index("threads  ms a frame"):].splitlines()
    assert [row.split()[0] for row in summary[1:3]] == ["1", "2"]
    assert summary[3].startswith("default threads here: ")


def test_bench_refuses_a_thread_count_out_of_range():
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--model", "digits", "--threads", "1,0"])
    assert exit_.value.code == 2
