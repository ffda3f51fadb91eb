"""``piclassify import`` of an image classifier: which tool made it, its labels, and the bundled backbone's gate.

The tool is what the files say: a Teachable Machine download (``--from``, or a labels file numbered ``0 Name``
beside the model), a model with TFLite metadata (Model Maker, MediaPipe), or else a course's or workshop's
model. Its labels come from ``--labels``, the download, the ``labels.txt`` beside the model, or the file the
metadata attaches. Then ``shared.imports.importer`` does the rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from piclassify.device.core.model_files import MODELS_DIR, user_models_dir
from piclassify.device.imports.sources import ModelSource, from_download, from_tflite, read_labels
from piclassify.device.teach.fit import check_name
from piclassify.shared.backbone.extractor import BACKBONE_FILE
from piclassify.shared.contract.manifest import Scaling
from piclassify.shared.errors import ModelImportError
from piclassify.shared.imports.importer import ImportOptions, import_image_model
from piclassify.shared.imports.labels import parse_labels_file
from piclassify.shared.imports.model_file import ModelFile, open_model_file
from piclassify.shared.inference.runtime import load_runtime


def import_image(args: argparse.Namespace) -> Path:
    """Import the image model ``args`` names; returns the written model's path."""
    check_name(args.name)
    source = from_download(args.source) if args.source is not None else from_tflite(args.tflite)
    model = open_model_file(source.data, source.origin, load_runtime(args.runtime))
    labels, numbered = _labels(args.labels, source, model)
    tool = ("teachable-machine" if source.teachable_machine or numbered
            else "metadata" if model.metadata is not None else "workshop")
    if (args.mean is None) != (args.std is None):
        raise ModelImportError("--mean and --std go together")
    scaling = None if args.mean is None else Scaling("meanstd", mean=args.mean, std=args.std)
    flags = {"scale": args.scale or ("mean/std" if scaling else None), "resize": args.resize,
             "resample": args.resample, "colour": args.colour, "ink": args.ink}
    options = ImportOptions(
        name=args.name, out_dir=args.out or user_models_dir(), tool=tool, flags=flags, scaling=scaling,
        check=args.check, examples=args.examples, nothing=args.nothing, nothing_label=args.nothing_label,
        backbone_path=MODELS_DIR / BACKBONE_FILE, runtime=args.runtime, threads=args.threads)
    _, path = import_image_model(model, labels, options, log=lambda line: print(line, flush=True))
    return path


def _labels(option: object, source: ModelSource, model: ModelFile) -> tuple[tuple[str, ...], bool]:
    """The labels, and whether they are Teachable Machine's numbered ``0 Name`` lines."""
    found = read_labels(option if isinstance(option, str) else None, source)
    if found is not None:
        return found
    metadata = model.metadata
    if metadata is not None and metadata.labels_file is not None:
        data = model.attached.get(metadata.labels_file)
        if data is None:
            raise ModelImportError(f"{model.origin}: its metadata names {metadata.labels_file!r}, which is not "
                                   "attached to it; give --labels")
        return parse_labels_file(data, f"{model.origin}: {metadata.labels_file}"), False
    raise ModelImportError(f"{model.origin}: no labels came with it; give --labels (a file, \"cats,dogs\", or "
                           "\"{'cats': 0, 'dogs': 1}\")")
