"""Taught models and the folders they live in, as untrusted input: a bad manifest or an unreadable folder is one
line, and never hides the other models; a model that cannot load is listed as broken, with why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import SAMPLES_DIR

from conftest import copy_model


def taught_like(folder: Path, name: str) -> Path:
    """catsdogs (a head on the backbone, as every taught model is) copied into ``folder`` as model ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    model = copy_model("catsdogs", folder)
    renamed = model.rename(folder / f"{name}.npz")
    manifest = json.loads(model.with_suffix(".json").read_text())
    manifest.update(name=name, model_file=renamed.name, head={**manifest["head"], "file": renamed.name})
    model.with_suffix(".json").unlink()
    renamed.with_suffix(".json").write_text(json.dumps(manifest))
    return renamed


def test_one_bad_manifest_does_not_stop_models_listing_the_rest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PICLASSIFY_MODELS", str(tmp_path))
    taught_like(tmp_path, "pets")
    (tmp_path / "garbage.npz").write_bytes(b"not a head")
    (tmp_path / "garbage.json").write_text("{not json")
    other = taught_like(tmp_path, "other")
    manifest = json.loads(other.with_suffix(".json").read_text())
    manifest["backbone"]["sha256"] = "0" * 64  # another backbone than the one beside it (issue 30's first row)
    other.with_suffix(".json").write_text(json.dumps(manifest))
    (tmp_path / "e\x1b[31mvil.npz").write_bytes(b"x")
    (tmp_path / "e\x1b[31mvil.json").write_text("[]")
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["pets"].split()[1:3] == ["multiclass", "2"], rows
    assert rows["digits"].split()[1] == "multiclass", "the bundled models are listed too"
    assert rows["garbage"].startswith("garbage    broken: garbage.json: not valid JSON"), rows["garbage"]
    assert "broken: efficientnet-lite0.tflite.gz: sha256 does not match the manifest's backbone" in rows["other"]
    assert "\x1b" not in "".join(rows) and "e\\x1b[31mvil" in rows, rows


def test_a_models_folder_that_cannot_be_listed_is_one_line_after_the_bundled_models(tmp_path, monkeypatch, capsys,
                                                                                     denied):
    models = tmp_path / "models"
    taught_like(models, "pets")
    monkeypatch.setenv("PICLASSIFY_MODELS", str(models))
    denied(models)
    assert main(["models"]) == 2
    captured = capsys.readouterr()
    assert "digits" in captured.out and "Traceback" not in captured.err
    assert captured.err == f"piclassify: error: {models}: cannot list the models there: Permission denied\n"


def test_predict_by_name_with_a_models_folder_that_cannot_be_searched_is_one_line(tmp_path, monkeypatch, capsys,
                                                                                   denied):
    models = tmp_path / "models"
    taught_like(models, "pets")
    monkeypatch.setenv("PICLASSIFY_MODELS", str(models))
    denied(models)
    assert main(["predict", "--model", "pets", str(SAMPLES_DIR / "catsdogs-1-cat.jpg")]) == 2
    assert capsys.readouterr().err == (f"piclassify: error: {models}: cannot look for model pets there: "
                                       "Permission denied\n")


@pytest.mark.parametrize("where", ["the folder", "a class"])
def test_teach_from_a_folder_that_cannot_be_listed_is_one_line_naming_it(tmp_path, capsys, denied, where):
    examples = tmp_path / "examples"
    for name in ("cats", "dogs"):
        (examples / name).mkdir(parents=True)
        for photo in SAMPLES_DIR.glob("catsdogs-*.jpg"):
            (examples / name / photo.name).write_bytes(photo.read_bytes())
    blocked = denied(examples if where == "the folder" else examples / "dogs")
    assert main(["teach", "pets", "--from", str(examples), "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert error == f"piclassify: error: {blocked}: cannot list it: Permission denied\n", error
    assert not (tmp_path / "models" / "pets.json").exists()


# -- teach: names, --out, writers, modes ----------------------------------------------------------------

def examples_of(folder: Path, classes: dict[str, str]) -> Path:
    """``folder/<class>/`` holding the bundled samples whose names start with each class's prefix."""
    for name, prefix in classes.items():
        (folder / name).mkdir(parents=True)
        for photo in sorted(SAMPLES_DIR.glob(f"{prefix}-*.jpg")):
            (folder / name / photo.name).write_bytes(photo.read_bytes())
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.mark.parametrize("name", ["a\tb", "new\nline", "e\x1b[2Jscape", "right\u202eleft", "x" * 201])
def test_a_class_folder_that_could_not_be_a_label_is_refused_before_the_fit_and_replaces_nothing(
        tmp_path, capsys, monkeypatch, name):
    """Such a model would never load (its manifest's labels are checked), and it replaced a good model of its name."""
    from piclassify.shared.backbone.extractor import FeatureExtractor

    models = tmp_path / "models"
    taught_like(models, "things")
    before = contents(models)
    folder = examples_of(tmp_path / "examples", {"pets": "catsdogs", name: "fashion"})
    monkeypatch.setattr(FeatureExtractor, "extract", lambda self, image: pytest.fail("the fit ran"))
    assert main(["teach", "things", "--from", str(folder), "--out", str(models), "--force"]) == 2
    error = capsys.readouterr().err
    assert "cannot name a class: a class name must be printable text of at most 200 characters" in error
    assert error.count("\n") == 1 and name not in error and "\x1b" not in error
    assert contents(models) == before


@pytest.mark.parametrize("out", ["a-file", "under-a-file"])
def test_out_is_checked_before_the_fit(tmp_path, capsys, monkeypatch, out):
    from piclassify.shared.backbone.extractor import FeatureExtractor

    (tmp_path / "a-file").write_text("in the way")
    folder = examples_of(tmp_path / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    monkeypatch.setattr(FeatureExtractor, "extract", lambda self, image: pytest.fail("the fit ran"))
    target = tmp_path / "a-file" if out == "a-file" else tmp_path / "a-file" / "models"
    assert main(["teach", "things", "--from", str(folder), "--out", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"{target}: cannot write things there: not a folder" in error and error.count("\n") == 1


def test_a_full_disk_while_the_manifest_is_written_leaves_every_folder_as_it_was(tmp_path, capsys, monkeypatch):
    """The head and its manifest are both written before either is renamed into place: no head without its manifest
    (nor a backbone copied, nor a folder made, for nothing), and a model already there stays whole."""
    import errno

    from piclassify.shared.files import atomic_file

    folder = examples_of(tmp_path / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    real = atomic_file._create

    def full(temporary: Path, mode: int) -> int:
        if temporary.name.startswith(".things.json."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(temporary, mode)

    old = tmp_path / "old"
    taught_like(old, "things")
    before = contents(old)
    monkeypatch.setattr(atomic_file, "_create", full)
    for out in (tmp_path / "new", old):
        assert main(["teach", "things", "--from", str(folder), "--out", str(out), "--force"]) == 2
        error = capsys.readouterr().err
        assert error == f"piclassify: error: {out}: cannot write things there: No space left on device\n", error
    assert not (tmp_path / "new").exists()
    assert contents(old) == before


def test_two_writers_of_one_name_leave_the_last_one_s_model_whole(tmp_path, monkeypatch):
    """Two teach runs writing ``things`` at once: the first pauses after renaming its head into place; the second
    must not slip its files in between (that left a manifest whose sha256 did not match its head, 6 times of 6)."""
    import os
    import threading

    from piclassify.device.core.model_files import MODELS_DIR
    from piclassify.shared.backbone.extractor import BACKBONE_FILE, load_description
    from piclassify.shared.backbone.head import build_head
    from piclassify.shared.backbone.head_model import head_manifest, write_head_model
    from piclassify.shared.contract.manifest import load_manifest
    from piclassify.shared.files import atomic_file

    description = load_description(MODELS_DIR / BACKBONE_FILE)
    rng = np.random.default_rng(1)
    fitted = [build_head(rng.normal(size=(20, 1000)), rng.normal(size=(20, 1280)), np.arange(20) % 2, 2, seed=seed)
              for seed in (1, 2)]
    manifests = [head_manifest("things", ("a", "b"), description, head, {}, {}, {}) for head in fitted]
    second_done, real_replace = threading.Event(), os.replace

    def replace_then_pause(source, target, *args, **kwargs):
        real_replace(source, target, *args, **kwargs)
        if Path(target).name == "things.npz" and threading.current_thread().name == "first":
            second_done.wait(1.0)  # the second writer's chance to come in between

    monkeypatch.setattr(atomic_file.os, "replace", replace_then_pause)
    first = threading.Thread(target=write_head_model, name="first",
                             args=(tmp_path, manifests[0], fitted[0], MODELS_DIR / BACKBONE_FILE))
    first.start()
    while not (tmp_path / "things.npz").exists():
        pass
    write_head_model(tmp_path, manifests[1], fitted[1], MODELS_DIR / BACKBONE_FILE)
    second_done.set()
    first.join(10)
    assert load_manifest(tmp_path / "things.npz").sha256 in {m.sha256 for m in manifests}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_taught_models_backbone_copies_and_examples_are_written_as_the_umask_says(tmp_path, umask, mode):
    """A model taught with sudo must be readable by the service's user: nothing is written 0600 but secrets."""
    import os
    import stat

    from piclassify.device.teach.examples import ExampleStore

    folder = examples_of(tmp_path / "examples", {"pets": "catsdogs", "clothes": "fashion"})
    previous = os.umask(umask)
    try:
        assert main(["teach", "things", "--from", str(folder), "--out", str(tmp_path / "models")]) == 0
        ExampleStore(tmp_path / "store").add("pets", np.zeros((48, 64, 3), np.uint8))
    finally:
        os.umask(previous)
    written = sorted((tmp_path / "models").iterdir()) + sorted((tmp_path / "store").rglob("*.jpg"))
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in written} == {path.name: mode for path in written}
    assert len(written) == 5
