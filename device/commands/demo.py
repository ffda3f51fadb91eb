"""``piclassify demo``: the main job on defaults, the camera if there is one, else the bundled sample photos.

With a camera it is ``piclassify run`` at two frames a second (``run.run_loop``); without one, each
bundled model classifies its sample photos (and "nothing in view" scenes), a table model its sample rows.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

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
        return _demo_samples()
    pipeline = Pipeline.load(args.model or DEFAULT_MODEL)
    print(f"piclassify demo: {source.name} with model {pipeline.manifest.name}", flush=True)
    config = ServiceConfig(model=pipeline.manifest.name, interval_s=0.5, results=no_results_log())
    run_loop(config, pipeline, source, lambda: open_source("auto"), replace(config.loop_settings(), count=args.count),
             "text")
    return 0


def _demo_samples() -> int:
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
        for number, sample in enumerate(samples):
            frame = Frame(read_image(sample), time.time(), number, str(sample))
            print("  " + pipeline.classify(frame).text(sample.name), flush=True)
    return 0
