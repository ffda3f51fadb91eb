"""``piclassify import``: a model made elsewhere becomes a piclassify model, on the Pi, with no TensorFlow.

An image classifier (``--tflite FILE`` or ``--from`` a Teachable Machine download) goes through
``shared.imports``; the workshop's table model (``--tflite`` with ``--min-max``) through
``device.tables.workshop_import``, with its options as they always were.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from piclassify.shared.inference.runtime import RUNTIME_NAMES

IMAGE_OPTIONS = ("source", "scale", "mean", "std", "resize", "resample", "colour", "ink", "check", "examples",
                 "nothing_label", "threads")
TABLE_OPTIONS = ("features", "target", "unit")


def add_import_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="make a model made elsewhere a piclassify model (Teachable Machine, Model Maker, a course's "
                       "model.tflite, the workshop's table model)",
        description="Import an image classifier (a .tflite and its labels, or a Teachable Machine download) or the "
                    "workshop's table model (--tflite with --min-max). What the file says is read from it; what it "
                    "cannot say is a flag, with the documented default of the tool that made it. The model is "
                    "checked, loaded as every command loads it, and written as NAME.tflite with its manifest.",
        epilog="Examples: piclassify import --from converted_tflite.zip --name pets | piclassify import --tflite "
               "model.tflite --labels \"{'cats': 0, 'dogs': 1}\" --name catsdogs-workshop --check photos/ | "
               "piclassify import --tflite model.tflite --min-max min-max.json --labels \"not admitted,admitted\" "
               "--name admission --features exam1,exam2 --out models/")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tflite", type=Path, help="the model file, e.g. model.tflite")
    where.add_argument("--from", dest="source", type=Path, metavar="PATH",
                       help="a Teachable Machine TensorFlow Lite download: its zip, or the folder it unpacks to")
    p.add_argument("--name", required=True, help="model name (becomes NAME.tflite and NAME.json)")
    p.add_argument("--labels", metavar="FILE_OR_LIST",
                   help="a labels file (one name a line, or Teachable Machine's '0 Name'), names in output order "
                        "(\"cats,dogs\"; binary: one sigmoid output, two labels) or Keras' class_indices "
                        "(\"{'cats': 0, 'dogs': 1}\"); default: the labels that came with the model")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: an image model goes where --model NAME finds it, $PICLASSIFY_MODELS "
                        "or ~/.local/share/piclassify/models; a table model into the current folder)")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, default=None,
                   help="force a runtime (default: the first installed)")
    image = p.add_argument_group("image models: what the file cannot say (default: the documented preprocessing of "
                                 "the tool that made it)")
    image.add_argument("--scale", choices=("0..1", "-1..1", "0..255", "bytes"),
                       help="pixels x/255, x/127.5-1 (write --scale=-1..1), as they are (float), or a "
                            "quantized input's pixel bytes as they are")
    image.add_argument("--mean", type=_floats, metavar="M[,M,M]", help="(x - mean) / std, with --std")
    image.add_argument("--std", type=_floats, metavar="S[,S,S]", help="(x - mean) / std, with --mean")
    image.add_argument("--resize", choices=("crop", "squash", "pad", "object"),
                       help="centre crop, squash, pad with black, or MNIST's framing (a small gray model)")
    image.add_argument("--resample", choices=("area", "nearest", "bilinear", "lanczos"),
                       help="how the photo is resized: area averaging, or as Keras' load_img (nearest), "
                            "tf.image.resize (bilinear) or Pillow's ImageOps.fit (lanczos) do")
    image.add_argument("--colour", choices=("rgb", "bgr", "gray"), help="the input's channels")
    image.add_argument("--ink", choices=("light-on-dark", "dark-on-light"),
                       help="a gray model's ink: light-on-dark (MNIST: a white digit on black) or as photographed")
    image.add_argument("--check", type=Path, metavar="DIR",
                       help="photos in DIR/<label>/: measure every plausible reading on them and keep the best")
    image.add_argument("--examples", type=Path, metavar="DIR",
                       help="a few photos per label in DIR/<label>/: calibrate \"nothing in view\" on them, as "
                            "`piclassify teach` does (without: the backbone alone)")
    image.add_argument("--nothing", choices=("backbone", "off"), default="backbone",
                       help="off: no \"nothing in view\" from the backbone, the model's own answer for every frame")
    image.add_argument("--nothing-label", metavar="LABEL",
                       help="a label that means nothing in view (a Teachable Machine Background class)")
    image.add_argument("--threads", type=_threads, default=None, help="interpreter threads, 1-64")
    table = p.add_argument_group("table models (with --min-max)")
    table.add_argument("--min-max", type=Path, help="the MinMaxScaler bounds, e.g. min-max.json")
    table.add_argument("--features", help="feature names in input order (default x1,x2,...)")
    table.add_argument("--target", help='what the model predicts (default: "admitted" for labels '
                                        '"not admitted,admitted", else "target")')
    table.add_argument("--unit", default="", help="a regression model's unit, shown with each prediction")
    p.set_defaults(func=import_command)


def _threads(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 64")
    return int(text)


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas") from None
    if not 1 <= len(values) <= 3 or not all(abs(v) < 65536 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: one value, or one per channel (3)")
    return values


def import_command(args: argparse.Namespace) -> int:
    from piclassify.shared.errors import ModelImportError

    given = [f"--{'from' if key == 'source' else key.replace('_', '-')}" for key in IMAGE_OPTIONS
             if getattr(args, key) is not None]
    given += ["--nothing"] if args.nothing != "backbone" else []
    if args.min_max is not None:
        if given:
            raise ModelImportError(f"{', '.join(given)}: for image models; a table model (--min-max) takes "
                                   "--labels, --features, --target and --unit")
        return _table_import(args)
    table = [f"--{key}" for key in TABLE_OPTIONS if getattr(args, key)]
    if table:
        raise ModelImportError(f"{', '.join(table)}: for a table model, with --min-max")
    from piclassify.device.imports.image_import import import_image

    path = import_image(args)
    print(f"try: piclassify predict --model {args.name if args.out is None else path} PHOTO")
    return 0


def _table_import(args: argparse.Namespace) -> int:
    from piclassify.device.tables.cli import import_command, names

    args.labels = None if args.labels is None else _names(args.labels, names)
    args.features = None if args.features is None else _names(args.features, names)
    args.out = Path(".") if args.out is None else args.out
    return import_command(args)


def _names(text: str, parse: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
    from piclassify.shared.errors import ModelImportError

    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        raise ModelImportError(str(exc)) from None
