#!/usr/bin/env python3
"""What an imported 224x224 MobileNet costs a frame: with the backbone's gate calibrated on examples, and without.

Makes a model shaped as Teachable Machine's (MobileNet v1 at 224, alpha 0.35, a Dense layer of 100 and a softmax;
its float export, zipped with ``labels.txt`` as the download is), imports it with ``piclassify import --from``
(``--examples``: 10 photos per class of cats_and_dogs_filtered/train; and once with ``--nothing off``), and runs
``piclassify bench --model NAME --threads 2 --frames 300 --no-cold-start`` on each, and on the bundled catsdogs
for scale, printing each report.

    PICLASSIFY_DATA=../shared/datasets .venv/bin/python scripts/bench_import.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DATA = Path(os.environ.get("PICLASSIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def teachable_machine_like(folder: Path) -> Path:
    """converted_tflite.zip: model_unquant.tflite (MobileNet 0.35 at 224, Dense 100, softmax) and labels.txt."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    base = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.35, weights=None, include_top=False,
                                        pooling="avg")
    model = keras.Sequential([keras.Input((224, 224, 3)), base, keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    download = folder / "converted_tflite.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("model_unquant.tflite", tf.lite.TFLiteConverter.from_keras_model(model).convert())
        archive.writestr("labels.txt", "0 cats\n1 dogs\n")
    return download


def examples(folder: Path, per_class: int = 10) -> Path:
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        for path in sorted((DATA / "cats_and_dogs_filtered" / "train" / label).glob("*.jpg"))[:per_class]:
            shutil.copy(path, folder / label / path.name)
    return folder


def main() -> int:
    if sys.argv[1:2] == ["--make"]:  # in a process of its own: TensorFlow's memory must not count as the bench's
        teachable_machine_like(Path(sys.argv[2]))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {**os.environ, "PICLASSIFY_MODELS": str(root / "models")}
        subprocess.run([sys.executable, __file__, "--make", str(root)], check=True, capture_output=True)
        download = root / "converted_tflite.zip"
        photos = examples(root / "examples")
        piclassify = [sys.executable, "-m", "piclassify.device.commands.cli"]
        for name, gate in (("tm-gated", ["--examples", str(photos)]), ("tm-own", ["--nothing", "off"])):
            subprocess.run([*piclassify, "import", "--from", str(download), "--name", name, *gate], env=env, check=True)
        # the bundled samples (digits, garments, pets, empty scenes: the gate turns many away before the model
        # runs), then 500 cat photos (in view: the backbone, the crop and the model each time; read from disk, which
        # the bench counts as capture), and the bundled catsdogs beside them, for scale
        pets = ["--source", str(DATA / "cats_and_dogs_filtered" / "validation" / "cats")]
        for name, source in (("tm-gated", []), ("tm-own", []), ("tm-gated", pets), ("catsdogs", [])):
            command = ["bench", "--model", name, "--threads", "2", "--frames", "300", "--no-cold-start", *source]
            print(f"\n$ piclassify {' '.join(command)}", flush=True)
            subprocess.run([*piclassify, *command], env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
