"""``piclassify-train import``: Teachable Machine's Keras download (``keras_model.h5`` and ``labels.txt``) and a
``.keras`` file become the same kind of model ``piclassify import`` writes, converted and checked against Keras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from piclassify.trainer.cli import main

from tests.helpers import foreign_models as made

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    """keras_model.h5 and labels.txt as Teachable Machine's Keras download holds them, and photos labelled by it."""
    from PIL import Image, ImageOps

    folder = tmp_path_factory.mktemp("converted_keras")
    model = made.teachable_machine_keras()
    model.save(folder / "keras_model.h5")
    model.save(folder / "model.keras")
    (folder / "labels.txt").write_text("".join(f"{n} {name}\n" for n, name in enumerate(made.TM_LABELS)))
    photos = made.varied_photos(folder / "all")
    for path in photos:  # Teachable Machine's Keras snippet, label by label
        image = np.asarray(ImageOps.fit(Image.open(path).convert("RGB"), (224, 224), Image.Resampling.LANCZOS))
        label = made.TM_LABELS[int(model.predict((image / 127.5 - 1)[np.newaxis], verbose=0).argmax())]
        (folder / "photos" / label).mkdir(parents=True, exist_ok=True)
        (folder / "photos" / label / path.name).write_bytes(path.read_bytes())
    return folder


def test_teachable_machines_keras_download_becomes_an_int8_model_that_agrees_with_keras(download, tmp_path, capsys):
    code = main(["import", str(download / "keras_model.h5"), "--labels", str(download / "labels.txt"), "--name", "tmk",
                 "--out", str(tmp_path), "--calibrate", str(download / "photos"), "--nothing", "off", "--verbose"])
    out = capsys.readouterr().out
    assert code == 0, out
    manifest = json.loads((tmp_path / "tmk.json").read_text())
    assert manifest["input"]["dtype"] == "int8" and manifest["labels"] == list(made.TM_LABELS)
    assert (manifest["resize"], manifest["resample"], manifest["scaling"]["mode"]) == ("centre-crop", "lanczos",
                                                                                        "symmetric")
    assert manifest["metrics"]["keras_tflite_agreement"] >= 0.97
    assert manifest["training"]["quantization"] == "int8" and "tensorflow" in manifest["versions"]


def test_without_photos_a_keras_file_becomes_float16(download, tmp_path, capsys):
    code = main(["import", str(download / "model.keras"), "--labels", "Red,Green,Blue", "--scale=-1..1",
                 "--resize", "crop", "--name", "tmf", "--out", str(tmp_path), "--nothing", "off", "--verbose"])
    assert code == 0, capsys.readouterr().out
    manifest = json.loads((tmp_path / "tmf.json").read_text())
    assert manifest["training"]["quantization"] == "float16" and manifest["input"]["dtype"] == "float32"
    assert (manifest["resize"], manifest["scaling"]["mode"]) == ("centre-crop", "symmetric")


def test_a_file_keras_cannot_load_is_one_line(tmp_path, capsys):
    (tmp_path / "keras_model.h5").write_bytes(b"not HDF5 at all")
    code = main(["import", str(tmp_path / "keras_model.h5"), "--labels", "a,b", "--name", "x", "--out",
                 str(tmp_path / "out"), "--nothing", "off", "--verbose"])
    err = capsys.readouterr().err
    assert code == 2 and "not a Keras model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "x.json").exists()
