"""``piclassify-train``: train a model, export it to TFLite and write it with its manifest."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from piclassify.shared.errors import PiclassifyError
from piclassify.trainer.export import QUANTIZATIONS
from piclassify.trainer.table_cli import add_table_command, run_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
                       help="folder holding the IDX files (default: $PICLASSIFY_DATA, /usr/share/datasets, ~/.keras/datasets)")
        p.add_argument("--limit", type=int, help="train on the first N training images only (quick checks)")
        if name == "fashion":
            p.add_argument("--photos", type=Path,
                           help="real clothing photos, train/<class>/ and validation/<class>/ (default: a "
                                "clothing-photos folder beside the IDX files); see trainer/clothing.py")
        _common_options(p, default_epochs=None)
    p = sub.add_parser("folder", help="your own photos: PATH/train/<class>/*.jpg (+ PATH/validation/...)",
                       description="Train an RGB classifier on photo folders. Class names are the folder names in "
                                   "sorted order, plus a background class learnt from empty scenes and --negatives, "
                                   "which the device answers as \"nothing in view\". "
                                   "Unreadable files are skipped and counted.")
    p.add_argument("path", type=Path, help="folder with train/<class>/ and validation/<class>/ (or just <class>/)")
    p.add_argument("--name", required=True, help="model name, e.g. catsdogs (becomes <name>.tflite)")
    p.add_argument("--size", type=int, default=96, help="square input size in pixels (default 96)")
    p.add_argument("--backbone", choices=("mobilenetv2",), help="transfer learning from ImageNet weights (local only)")
    p.add_argument("--weights", type=Path, help="backbone weights file (default: the Keras cache ~/.keras/models)")
    p.add_argument("--negatives", type=Path,
                   help="photos that show none of the classes (any sub-folders): with built-in empty scenes they "
                        "teach the model to answer \"nothing in view\"")
    _common_options(p, default_epochs=50)

    p = sub.add_parser("samples", help="render the demo's sample photos from test images and empty scenes",
                       description="Render test-set digits and clothes as camera photos (dark on lit paper) "
                                   "for the device demo, and two empty scenes that every photo model must "
                                   "answer with \"nothing in view\"; writes <model>-<n>-<label>.jpg and "
                                   "nothing-<n>-<scene>.jpg.")
    p.add_argument("--out", type=Path, default=Path("device/samples"), help="output folder (default device/samples)")
    p.add_argument("--data-dir", type=Path, help="folder holding the IDX files")
    p.add_argument("--per-dataset", type=int, default=4, help="photos per dataset (default 4)")

    p = sub.add_parser("reject", help="give a trained digits or fashion model today's \"nothing in view\" settings",
                       description="Write the dataset's \"nothing in view\" settings into an existing model's "
                                   "manifest and measure them (empty scenes, test items rendered as photos), "
                                   "without retraining: for models made before these settings existed. "
                                   "Photo-folder models learn theirs and need `piclassify-train folder` again.")
    p.add_argument("model", type=Path, help="the model's .tflite file, its .json beside it")
    p.add_argument("--dataset", dest="trained_on", choices=("digits", "fashion"), required=True,
                   help="what the model was trained on")
    p.add_argument("--data-dir", type=Path, help="folder holding the IDX files")
    add_table_command(sub)
    return parser


def _common_options(p: argparse.ArgumentParser, default_epochs: Optional[int]) -> None:
    shown = default_epochs or "12 for digits, 10 for fashion"
    p.add_argument("--epochs", type=int, default=default_epochs,
                   help=f"most epochs to train; early stopping may end sooner (default {shown})")
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="int8",
                   help="int8: full-integer with a representative dataset (default); float16; dynamic; float32")
    p.add_argument("--out", type=Path, default=Path("models"),
                   help="output folder for <name>.tflite, <name>.json and reports/ (default ./models)")
    p.add_argument("--seed", type=int, default=1, help="random seed for shuffling and initialisation (default 1)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        if args.dataset == "samples":
            from piclassify.trainer.samples import make_samples

            for path in make_samples(args.out, args.per_dataset, args.data_dir):
                print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
            return 0
        if args.dataset == "reject":
            from piclassify.trainer.idx_recipe import add_reject_settings

            add_reject_settings(args.model, args.trained_on, args.data_dir, log)
            return 0
        if args.dataset == "table":
            run_table(args, log)
            return 0
        if args.dataset == "folder":
            from piclassify.trainer.folder_recipe import train_folder_model

            train_folder_model(args.path, args.name, size=args.size, epochs=args.epochs, quantization=args.quantize,
                               out_dir=args.out, backbone=args.backbone, weights=args.weights,
                               negatives=args.negatives, seed=args.seed, log=log)
            return 0
        from piclassify.trainer.idx_recipe import train_idx_model

        train_idx_model(args.dataset, arch=args.arch, epochs=args.epochs, quantization=args.quantize,
                        out_dir=args.out, data_dir=args.data_dir, limit=args.limit, seed=args.seed,
                        log=log, photos=getattr(args, "photos", None))
    except PiclassifyError as exc:
        print(f"piclassify-train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
