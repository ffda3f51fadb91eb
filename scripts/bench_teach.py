#!/usr/bin/env python3
"""``piclassify teach`` numbers for the README (a benchmark, not a test): ``.venv/bin/python scripts/bench_teach.py``.

Teaches on the first 10, 20 and 50 photos per class of ``cats_and_dogs_filtered/train`` and on 20 per class
of four ``clothing-photos`` classes, each measured on every validation photo of its classes (the answers,
with "nothing in view" counted wrong, and the labels alone), on the cats and dogs of other collections
(``pets-varied``, for the pet models), on 400 rendered empty scenes and on each kind of ``negatives/`` (the
worst kind). Then the costs: the backbone per photo, the fit for 500 examples, and the
peak RSS of a ``piclassify teach`` process. Needs ``../shared/datasets`` (or ``--data-dir``) and the trainer
extra (for the empty scenes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.device.commands.bench import RUN_THEN_PEAK
from piclassify.device.core.model_files import MODELS_DIR
from piclassify.device.teach.fit import teach
from piclassify.shared.backbone.extractor import BACKBONE_FILE, FeatureExtractor, load_class_graph, load_description
from piclassify.shared.backbone.photo_head import fit_photo_head
from piclassify.shared.classifier import Classifier
from piclassify.shared.files.imagefile import read_image
from piclassify.shared.files.photo_folders import class_names, load_split
from piclassify.shared.inference.runtime import load_runtime
from piclassify.trainer.data.scenes import empty_scenes
from piclassify.trainer.nothing_in_view.collections import collections_in
from piclassify.trainer.nothing_in_view.measure import EMPTY_SCENES, SCENES_SEED, kinds_in
from piclassify.trainer.nothing_in_view.sources import Source, answers_of

CLOTHES = ("dress", "pants", "shirt", "t-shirt")


def nothing_rate(classifier: Classifier, photos) -> float:
    answers = [classifier.classify_photo(photo).prediction for photo in photos]
    return sum(answer is None for answer in answers) / len(answers)


def kind_photos(folder: Path):
    for path in sorted(folder.iterdir()):
        try:
            yield read_image(path)
        except Exception:  # noqa: BLE001 - a file that is no photo is not one of the kind's photos
            continue


def other_collections(classifier: Classifier, folder: Optional[Path]) -> str:
    """The share of another collection's photos of the classes answered right (and "nothing"), all collections."""
    if folder is None:
        return "-"
    items = [item for photos in collections_in(folder, classifier.manifest.labels).values() for item in photos]
    measured = answers_of(classifier, Source(lambda: (read_image(path) for path, _ in items),
                                             np.array([label for _, label in items])))
    return f"{100 * measured['right']:.1f}% ({100 * measured['nothing']:.1f}%)"


def accuracy_row(what: str, folder: Path, per_class: int, negatives: Path, out: Path,
                 others: Optional[Path] = None) -> str:
    name = f"bench-{what.split()[0]}-{per_class}"
    manifest = teach(name, folder, out, per_class=per_class, log=lambda line: None)
    classifier = Classifier.load(out / f"{name}.npz")
    scenes = nothing_rate(classifier, (image for _, image in empty_scenes(EMPTY_SCENES, SCENES_SEED)))
    kinds = {name: nothing_rate(classifier, kind_photos(path)) for name, path in kinds_in(negatives).items()}
    worst = min(kinds, key=kinds.get)
    m = manifest.metrics
    return (f"| {what} | {per_class} | {100 * m['tflite_accuracy']:.1f}% | {100 * m['label_accuracy']:.1f}% | "
            f"{100 * m['nothing_in_view_rate']:.1f}% | {other_collections(classifier, others)} | {100 * scenes:.1f}% | "
            f"{100 * kinds[worst]:.1f}% ({worst}) |")


def costs(cats_and_dogs: Path, out: Path) -> list[str]:
    description = load_description(MODELS_DIR / BACKBONE_FILE)
    extractor = FeatureExtractor(MODELS_DIR, description, load_runtime())
    classes = class_names(cats_and_dogs / "train")
    train = load_split(cats_and_dogs / "train", classes, description.size, description.size, description.resize,
                       lambda line: None, per_class=250)
    started = time.perf_counter()
    for image in train.images[:100]:
        extractor.extract(image)
    per_photo = (time.perf_counter() - started) / 100 * 1e3
    last_view = [0.0]  # when the backbone finished: the fit is what comes after
    fit_photo_head(extractor, train.images, train.labels, len(classes),
                   advance=lambda count: last_view.__setitem__(0, time.perf_counter()),
                   graph=load_class_graph(MODELS_DIR / BACKBONE_FILE))
    fit_seconds = time.perf_counter() - last_view[0]
    command = [sys.executable, "-c", RUN_THEN_PEAK, "teach", "rss", "--from", str(cats_and_dogs / "train"),
               "--per-class", "20", "--out", str(out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    rss = int(done.stderr.split()[-1]) / 1024
    return [f"backbone per photo (224x224, {extractor.backbone.input.dtype}, default threads): {per_photo:.1f} ms",
            f"fit for {len(train.labels)} examples ({len(train.labels) * 5} views with the jittered copies): "
            f"{fit_seconds:.2f} s",
            f"peak RSS of `piclassify teach` on 20 photos per class: {rss:.0f} MB"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = parser.parse_args()
    data = args.data_dir
    with tempfile.TemporaryDirectory() as temporary:
        out = Path(temporary)
        clothes = out / "clothes"
        for split in ("train", "validation"):
            (clothes / split).mkdir(parents=True)
            for name in CLOTHES:
                os.symlink(data / "clothing-photos" / split / name, clothes / split / name)
        print("| photos | per class | answers right | labels right | validation photos \"nothing\" | "
              "other collections right (\"nothing\") | empty scenes \"nothing\" | worst negatives kind \"nothing\" |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for per_class in (10, 20, 50):
            print(accuracy_row("cats and dogs", data / "cats_and_dogs_filtered", per_class, data / "negatives", out,
                               data / "pets-varied"), flush=True)
        print(accuracy_row(f"clothes ({', '.join(CLOTHES)})", clothes, 20, data / "negatives", out), flush=True)
        for line in costs(data / "cats_and_dogs_filtered", out):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
