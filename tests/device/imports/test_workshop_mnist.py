"""The workshop's MNIST model as its notebook makes it (784 inputs, Dense, softmax, ``x / 255``), imported bare:
``--check`` on 20 photos per class of digits written on paper picks the reading its accuracy shows is right, a
light digit cut out and centred on black, as MNIST's were; the others are printed with theirs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from piclassify.device.commands.cli import main

pytestmark = [pytest.mark.training, pytest.mark.dataset]
tf = pytest.importorskip("tensorflow")


def test_check_picks_mnists_reading_for_a_bare_784_input_model(tmp_path, capsys, mnist_test, mnist_dir):
    import keras

    from piclassify.trainer.data.idx import read_idx
    from piclassify.trainer.data.photos import render_on_paper

    images = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")[:20000]
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")[:20000]
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images.reshape(-1, 784) / 255.0, labels, epochs=2, batch_size=128, verbose=0)
    (tmp_path / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    test_images, test_labels = mnist_test
    rng = np.random.default_rng(4)
    for digit in range(10):
        folder = tmp_path / "photos" / str(digit)
        folder.mkdir(parents=True)
        for number, index in enumerate(np.flatnonzero(test_labels == digit)[:20]):
            Image.fromarray(render_on_paper(test_images[index], rng, (320, 240))).save(folder / f"{number}.jpg")
    try:
        code = main(["import", "--tflite", str(tmp_path / "model.tflite"), "--labels", "0,1,2,3,4,5,6,7,8,9",
                     "--name", "mnist-dense", "--out", str(tmp_path / "models"), "--check", str(tmp_path / "photos"),
                     "--nothing", "off"])
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("%  ") == 18  # 3 scales x 3 framings x 2 inks
    manifest = json.loads((tmp_path / "models" / "mnist-dense.json").read_text())
    assert (manifest["input"]["shape"], manifest["resize"], manifest["polarity"], manifest["scaling"]["mode"]) == (
        [784], "object", "light-on-dark", "unit")
    assert manifest["metrics"]["tflite_accuracy"] >= 0.8
    assert "kept the documented reading: the object cut out and centred (MNIST's framing), x/255, gray" in out
