#!/usr/bin/env python3
"""What the backbone alone can say "nothing in view" to, for a model imported without photos of its classes.

The backbone (at 224, as an imported model's gate runs it) looks at 300 rendered empty scenes (a seed no model
used) and at photos of things: 25 of each kind of ``negatives/``, 60 cats, 60 dogs and 60 trousers. Prints the
strongest ImageNet logit below which 1%, 2% and 5% of the things fall, and the share of empty scenes below each
(``shared.imports.gate_fit.BACKBONE_ALONE_LOGIT`` is the 1% level), and each kind's 1% level and median.

    PICLASSIFY_DATA=../shared/datasets .venv/bin/python scripts/bench_backbone_alone.py
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE, FeatureExtractor, load_description
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.inference.runtime import load_runtime
from piclassify.trainer.data.scenes import empty_scenes

DATA = Path(os.environ.get("PICLASSIFY_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def main() -> int:
    description = replace(load_description(MODELS_DIR / BACKBONE_FILE), size=224)
    extractor = FeatureExtractor(MODELS_DIR, description, load_runtime(), 2)

    def strongest(photo: np.ndarray) -> float:
        return float(extractor.extract(extractor.frame(photo))[1].max())

    empty = np.array([strongest(photo) for _, photo in empty_scenes(300, seed=77)])
    folders = {kind.name: (kind, 25) for kind in sorted((DATA / "negatives").iterdir()) if kind.is_dir()}
    folders.update(cats=(DATA / "cats_and_dogs_filtered/validation/cats", 60),
                   dogs=(DATA / "cats_and_dogs_filtered/validation/dogs", 60),
                   trousers=(DATA / "clothing-photos/validation/pants", 60))
    things = {}
    for name, (folder, count) in folders.items():
        files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES][:count]
        things[name] = np.array([strongest(read_image(path)) for path in files])
    every = np.concatenate(list(things.values()))
    print(f"{len(every)} photos of things, {len(empty)} empty scenes; empty scenes' strongest logit: median "
          f"{np.median(empty):.2f}")
    for share in (0.01, 0.02, 0.05):
        level = np.quantile(every, share)
        print(f"{100 * share:.0f}% of the things below {level:.2f}: {100 * np.mean(empty < level):.1f}% of the empty "
              "scenes below it")
    for name, values in things.items():
        print(f"  {name:<20} 1% below {np.quantile(values, 0.01):.2f}, median {np.median(values):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
