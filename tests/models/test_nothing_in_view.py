""""Nothing in view" is an answer: empty scenes get it, real objects almost never, and every output knows it.

28x28 models decide in the framing (no object, too little contrast, only texture, too small);
photo models learn a background class. The settings live in the manifest's ``reject`` section.
"""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import SAMPLES_DIR, resolve_model
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.results_log import ResultLog
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.reject import Reject
from piclassify.shared.files.imagefile import read_image
from piclassify.trainer.data.samples import make_empty_samples
from piclassify.trainer.data.scenes import SCENES, empty_scenes
from piclassify.trainer.nothing_in_view.measure import EMPTY_SCENES, SCENES_SEED, nothing_rate

from conftest import classify_photo, make_frame, make_result
from tests.helpers.manifests import digits_like

PHOTO_MODELS = ["catsdogs", "digits", "fashion"]


@pytest.mark.parametrize("model", PHOTO_MODELS)
def test_empty_scenes_get_nothing_in_view_from_every_bundled_model(model):
    pipeline = Pipeline.load(model)
    scenes = empty_scenes(3 * len(SCENES), seed=99)  # three of each kind, not the trainer's draws
    answered = Counter(kind for kind, image in scenes if classify_photo(pipeline, image).label is not None)
    assert sum(answered.values()) <= 1, f"{model} named something in empty scenes: {dict(answered)}"


@pytest.mark.remeasure
@pytest.mark.parametrize("model", PHOTO_MODELS)
def test_each_bundled_model_s_empty_scene_rate_is_what_the_device_measures(model):
    """The trainer's scenes are drawn from a fixed seed: the device's own answers give the manifest's rate."""
    classifier = Classifier.load(resolve_model(model))
    rates = classifier.manifest.metrics["nothing_in_view"]
    scenes = (image for _, image in empty_scenes(EMPTY_SCENES, SCENES_SEED))
    assert nothing_rate(classifier, scenes) == (pytest.approx(rates["empty_scenes_rate"], abs=1e-4),
                                                rates["empty_scenes"])
    assert rates["objects"] >= 290 and 0 <= rates["objects_rate"] <= 0.1  # fashion: the real validation garments


def test_the_demo_s_empty_scenes_are_what_the_trainer_renders(tmp_path):
    """``piclassify-train samples`` makes the bundled nothing-*.jpg (JPEG encoders may differ by a grey level)."""
    made = make_empty_samples(tmp_path)
    assert [path.name for path in made] == sorted(path.name for path in SAMPLES_DIR.glob("nothing-*.jpg"))
    for path in made:
        bundled, rendered = read_image(SAMPLES_DIR / path.name).astype(int), read_image(path).astype(int)
        assert np.abs(bundled - rendered).mean() < 1, path.name


def test_nothing_in_view_is_one_text_line_and_null_label_index_score_in_json(tmp_path, capsys):
    blank = tmp_path / "blank.jpg"
    Image.fromarray(np.full((480, 640, 3), 210, np.uint8)).save(blank)
    assert main(["predict", "--model", "digits", str(blank)]) == 0
    assert capsys.readouterr().out == f"{blank}: nothing in view (no object with enough contrast)\n"
    assert main(["predict", "--model", "digits", "--json", str(blank)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["label"], record["index"], record["score"], record["top"]) == (None, None, None, [])
    assert record["reason"] == "no object with enough contrast" and record["model"] == "digits"


def test_reject_settings_survive_the_manifest_round_trip():
    manifest = digits_like(reject=Reject(min_contrast=30, min_separation=25, min_size=0.1, border_is_background=True))
    assert Manifest.from_dict(json.loads(manifest.to_json())).reject == manifest.reject


def test_a_manifest_from_before_nothing_in_view_still_loads_with_the_old_behaviour():
    data = json.loads(digits_like().to_json())
    del data["reject"]
    assert Manifest.from_dict(data).reject == Reject()  # only "no object with enough contrast", as before


def test_a_background_label_must_be_one_of_the_labels():
    with pytest.raises(Exception, match="reject.background_label 'empty' is not one of the labels"):
        digits_like(reject=Reject(background_label="empty"))


def test_the_model_s_background_class_is_answered_as_nothing_in_view():
    pipeline = Pipeline.load("digits")
    pipeline.classifier.manifest = replace(pipeline.manifest, reject=Reject(background_label="7"))
    sample = sorted(SAMPLES_DIR.glob("digits-*-7.jpg"))[0]
    result = classify_photo(pipeline, np.asarray(Image.open(sample).convert("RGB")))
    assert result.label is None and result.reason == "the model sees only background"


@pytest.mark.parametrize("keep", [0.9, 0.93, 0.99])
def test_the_background_threshold_rises_only_as_far_as_the_held_out_negatives_allow(keep):
    from piclassify.trainer.nothing_in_view.background import calibrate_threshold

    negatives = np.random.default_rng(3).beta(8, 1, 645)  # background probabilities of held-out negatives
    threshold = calibrate_threshold(negatives, keep)
    assert 0.5 < threshold < 0.95 and np.mean(negatives > threshold) >= keep
    next_up = np.sort(negatives)[np.sort(negatives) > threshold][0]
    assert np.mean(negatives > next_up) < keep  # one step higher would let too many through
    assert calibrate_threshold(np.full(50, 0.45), keep) == 0.5  # never below "more likely than the rest"


def test_the_results_log_skips_nothing_in_view_unless_asked(tmp_path):
    deliveries = [Delivery(make_result("7", frame=0), make_frame(0)), Delivery(make_result(None, frame=1), make_frame(1))]
    for log_nothing, expected in ((False, ["7"]), (True, ["7", None])):
        path = tmp_path / f"results-{log_nothing}.jsonl"
        log = ResultLog(path, max_bytes=1 << 20, keep=1, log_nothing=log_nothing)
        for delivery in deliveries:
            log.handle(delivery)
        log.close()
        assert [json.loads(line)["label"] for line in path.read_text().splitlines()] == expected


def test_evaluate_counts_every_photo_of_a_small_folder_into_its_cell(tmp_path, capsys):
    """Digits 7 and 2 as folders (one named otherwise and mapped), a nothing/ folder, a corrupt file, a stray folder."""
    samples = {path.stem.split("-")[-1]: path for path in SAMPLES_DIR.glob("digits-*.jpg")}
    layout = {"7": ["7", "7"], "two": ["2", "1"], "nothing": ["blank", "2"], "cats": ["7"]}
    for folder, photos in layout.items():
        (tmp_path / folder).mkdir()
        for number, photo in enumerate(photos):
            target = tmp_path / folder / f"{number}.jpg"
            if photo == "blank":
                Image.fromarray(np.full((480, 640, 3), 200, np.uint8)).save(target)
            else:
                target.write_bytes(samples[photo].read_bytes())
    (tmp_path / "7" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    report = tmp_path / "report"
    assert main(["evaluate", "--model", "digits", str(tmp_path), "--map", "two=2", "--json",
                 "--report", str(report)]) == 0
    record = json.loads(capsys.readouterr().out)
    labels = record["confusion"]["labels"]
    assert labels == [*"0123456789", "nothing"]
    cells = {(labels[i], labels[j]): count for i, row in enumerate(record["confusion"]["matrix"])
             for j, count in enumerate(row) if count}
    assert cells == {("7", "7"): 2, ("2", "2"): 1, ("2", "1"): 1, ("nothing", "nothing"): 1, ("nothing", "2"): 1}
    assert record["photos"] == 6
    # the labelled photos and the other things (nothing/) are measured apart: "nothing" is wrong for the former
    assert record["labelled"] == {"photos": 4, "right": 3, "right_rate": 0.75, "nothing": 0, "nothing_rate": 0.0}
    assert record["other_things"] == {"photos": 2, "nothing": 1, "nothing_rate": 0.5}
    assert record["per_class"]["2"] == {"photos": 2, "correct": 1, "nothing": 0}
    assert record["unreadable"] == [str(tmp_path / "7" / "broken.jpg")] and record["skipped_folders"] == ["cats"]
    assert (report / "digits-evaluate.png").is_file()


def test_evaluate_prints_per_class_accuracy_and_the_matrix_for_a_person(tmp_path, capsys):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "a.jpg").write_bytes(sorted(SAMPLES_DIR.glob("digits-*-7.jpg"))[0].read_bytes())
    assert main(["evaluate", "--model", "digits", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1/1      100.00%  (0 nothing)" in out and "photos of its labels: 100.00% right" in out
    assert "confusion matrix" in out and "rightly answered" not in out  # no nothing/ folder, no line about it


def test_evaluate_never_counts_the_other_things_into_the_labels_right(tmp_path, capsys):
    """Ten blank sheets rightly answered "nothing" beside one digit misread: 0% of the labelled photos are right,
    not 91% of all of them."""
    (tmp_path / "nothing").mkdir()
    for number in range(10):
        Image.fromarray(np.full((480, 640, 3), 200, np.uint8)).save(tmp_path / "nothing" / f"{number}.jpg")
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "a.jpg").write_bytes(sorted(SAMPLES_DIR.glob("digits-*-7.jpg"))[0].read_bytes())
    assert main(["evaluate", "--model", "digits", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "photos of its labels: 0.00% right" in out and 'other things: 100.0% rightly answered "nothing"' in out


@pytest.mark.parametrize("report", ["a-file", "/proc/piclassify-report"])
def test_evaluate_report_where_it_cannot_be_written_is_one_line(tmp_path, capsys, report):
    (tmp_path / "photos" / "7").mkdir(parents=True)
    (tmp_path / "photos" / "7" / "a.jpg").write_bytes(sorted(SAMPLES_DIR.glob("digits-*-7.jpg"))[0].read_bytes())
    (tmp_path / "a-file").write_text("in the way")
    target = tmp_path / report if report == "a-file" else Path(report)
    assert main(["evaluate", "--model", "digits", str(tmp_path / "photos"), "--report", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"--report {target}: cannot save the confusion matrix there" in error and error.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--map", "two"], "--map 'two': expected FOLDER=LABEL"),
    (["--map", "two=22"], "--map two=22: '22' is not a label of digits"),
])
def test_evaluate_refuses_a_bad_map_in_one_line(tmp_path, capsys, args, message):
    assert main(["evaluate", "--model", "digits", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
