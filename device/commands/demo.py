"""``piclassify demo``: the main job on defaults, the camera if there is one, else the bundled sample photos.

With a camera it is ``piclassify run`` at two frames a second (``run.run_loop``); without one, each
bundled model classifies its sample photos (and "nothing in view" scenes), a table model its sample rows. Each
sample's name says what it shows, so each answer is marked right or wrong. It ends with what to try next, named
as this shell can run it (``.venv-device/bin/piclassify`` until the venv is activated).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from piclassify.device.commands.run import no_results_log, run_loop
from piclassify.device.core.model_files import DEFAULT_MODEL


def cmd_demo(args: argparse.Namespace) -> int:
    from piclassify.device.config import ServiceConfig
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.sources import open_source
    from piclassify.device.errors import CameraError

    try:
        source = open_source("auto")
    except CameraError as exc:
        print(f"piclassify demo: {exc}; classifying the bundled sample photos instead", flush=True)
        _demo_samples()
        print_next_steps(camera=False)
        return 0
    pipeline = Pipeline.load(args.model or DEFAULT_MODEL)
    print(f"piclassify demo: {source.name} with model {pipeline.manifest.name}", flush=True)
    config = ServiceConfig(model=pipeline.manifest.name, interval_s=0.5, results=no_results_log())
    run_loop(config, pipeline, source, lambda: open_source("auto"), replace(config.loop_settings(), count=args.count),
             "text")
    print_next_steps(camera=True)
    return 0


def _demo_samples() -> None:
    """Without a camera: every bundled model on its sample photos (a table model on its sample rows)."""
    from piclassify.device.core.frames import Frame
    from piclassify.device.core.model_files import SAMPLES_DIR, bundled_model_paths
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.tables.cli import answer_text
    from piclassify.device.tables.predict import TablePredictor, csv_rows
    from piclassify.shared.contract.manifest import load_manifest
    from piclassify.shared.files.imagefile import read_image
    from piclassify.shared.tables.csv_file import TableError

    empty_scenes = sorted(SAMPLES_DIR.glob("nothing-*.jpg"))  # every photo model must say "nothing in view"
    for model_path in bundled_model_paths():
        manifest = load_manifest(model_path)
        samples = sorted(SAMPLES_DIR.glob(f"{model_path.stem}-*"))
        if manifest.table is None:
            samples += empty_scenes
        if not samples:
            continue
        accuracy = manifest.metrics.get("tflite_accuracy")
        print(f"\n{manifest.name} (test accuracy {100 * accuracy:.2f}%):" if accuracy else f"\n{manifest.name}:")
        if manifest.table is not None:  # a CSV of rows: the workshop's own Pi app
            predictor = TablePredictor.load(str(model_path))
            for number, row in csv_rows(samples[0], predictor.features):
                if isinstance(row, TableError):
                    print(f"  {row}", flush=True)
                    continue
                values = ", ".join(f"{name} {value:g}" for name, value in zip(predictor.features, row))
                print(f"  {samples[0].name} row {number} ({values}): "
                      f"{answer_text(predictor.predict(row))}", flush=True)
            continue
        pipeline = Pipeline.load(str(model_path))
        right = 0
        for number, sample in enumerate(samples):
            result = pipeline.classify(Frame(read_image(sample), time.time(), number, str(sample)))
            shows = sample_shows(sample.name, manifest.labels)
            verdict = "" if shows is False else ("right  " if result.label == shows else "WRONG  ")
            right += verdict == "right  "
            what = "" if shows is False else f" ({shows or 'nothing'})"
            print(f"  {verdict}{result.text(sample.name + what)}", flush=True)
        print(f"  {right} of {len(samples)} right (what each photo shows is in its name)", flush=True)


def sample_shows(name: str, labels: Sequence[str]) -> "Optional[str] | bool":
    """What a sample photo shows, by its name: ``fashion-1-t-shirt-top.jpg`` -> ``T-shirt/top``, ``catsdogs-1-cat.jpg``
    -> ``cats``; ``nothing-*`` -> None (nothing in view is right); False when the name names no label."""
    if name.startswith("nothing-"):
        return None
    said = _letters(name.rsplit(".", 1)[0].split("-", 2)[-1])
    exact = [label for label in labels if _letters(label) == said]
    starting = [label for label in labels if _letters(label).startswith(said)]
    return exact[0] if exact else (starting[0] if len(starting) == 1 else False)


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def command() -> str:
    """How this shell runs piclassify: ``piclassify`` when PATH finds this one, else its path (relative to here when
    it is below here, as ``.venv-device/bin/piclassify`` after ``scripts/demo``)."""
    mine = Path(sys.executable).parent / "piclassify"
    found = shutil.which("piclassify")
    if not mine.is_file() or (found is not None and os.path.samefile(found, mine)):
        return "piclassify"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def print_next_steps(camera: bool) -> None:
    """What to try next, each as a command this shell can run."""
    me = command()
    steps = [] if camera else [("run --model digits --source auto", "what a camera sees (Pi camera or USB)")]
    steps += [("models", "every model and how well it does"),
              ("teach pets --from ~/photos", "a new model from a folder of photos per class"),
              ("service --example-config", "the headless service's settings (README: The headless service)")]
    print("\nnext:")
    if me != "piclassify":
        print(f"  ({me} is not on PATH: `. {Path(me).parent}/activate` makes it plain `piclassify`)")
    for arguments, what in steps:
        print(f"  {me + ' ' + arguments:<{len(me) + 34}} {what}")
