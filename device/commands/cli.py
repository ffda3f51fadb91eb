"""``piclassify``: classify images and camera frames on the Pi, with bundled models and no TensorFlow.

Exit codes: 0 success, 2 bad input (unreadable image, unknown model, manifest mismatch, no camera),
each reported as one line naming the file or device.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar

from piclassify.device.commands.demo import cmd_demo
from piclassify.device.commands.fleet import add_fleet_command
from piclassify.device.commands.models import cmd_info, cmd_models
from piclassify.device.commands.run import cmd_run
from piclassify.device.core.model_files import DEFAULT_MODEL
from piclassify.device.errors import OutputError, SourceError
from piclassify.device.imports.cli import add_import_command
from piclassify.device.tables.cli import add_values_options, predict_table
from piclassify.shared.arguments import OneLineParser
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.inference.runtime import RUNTIME_NAMES, NoRuntimeError

Number = TypeVar("Number", int, float)


def _add_model_options(p: argparse.ArgumentParser, required: bool = True, threads: bool = True) -> None:
    p.add_argument("--model", required=required, default=None if required else DEFAULT_MODEL,
                   help="bundled model name (see `piclassify models`), or a model's path: its .tflite or .npz, "
                        "or its .json")
    if threads:
        p.add_argument("--threads", type=bounded(int, 1, 64), default=None,
                       help="interpreter threads, 1-64 (default: the usable cores, at most 4)")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, default=None,
                   help="force a runtime (default: the first installed, in that order)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="piclassify",
                           description="Classify images and camera frames offline, with bundled models "
                                       "(digits, fashion, catsdogs) and no TensorFlow.",
                           epilog="Run `piclassify COMMAND --help` for each command's options.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("predict", help="classify image files", description="Classify image files, folders or globs; "
                       "or, with a table model, rows of numbers (--values, --csv).")
    _add_model_options(p)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files, folders or globs (JPEG, PNG, BMP, WebP)")
    add_values_options(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line (the result schema in README) instead of text")
    p.add_argument("--debug-dir", type=Path, help="save each framing step and the exact model input here")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("run", help="classify frames continuously", description="Classify frames from a camera, "
                       "video or images continuously, a line per result. Ctrl-C stops.")
    _add_model_options(p)
    _add_source_options(p)
    p.add_argument("--repeat", action="store_true", help="image files and folders: start again when they run out")
    p.add_argument("--region", action="append", metavar="[NAME=]X,Y,W,H",
                   help="watch only this part of the frame (fractions of its width and height; again for more "
                        "regions): a state per region, steady after --agree answers, classified again only when "
                        "its pixels change or after --recheck seconds")
    p.add_argument("--agree", type=bounded(int, 1, 100), default=3, metavar="N",
                   help="with --region: answers in a row that must agree before a region's state changes (default 3)")
    p.add_argument("--recheck", type=bounded(float, 0, 86400), default=60.0, metavar="SECONDS",
                   help="with --region: classify an unchanged region again after this long (default 60; 0: every "
                        "frame)")
    p.add_argument("--web", type=_listen, metavar="[HOST:]PORT",
                   help="also serve the web view (live stream, results, status) on PORT; HOST defaults to "
                        "127.0.0.1, any other address needs --web-token-file")
    p.add_argument("--web-token-file", type=Path, metavar="FILE",
                   help="the web view's access token (made by `piclassify web-token --out FILE`)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("web-token", help="make an access token for the web view",
                       description="Print 32 random bytes as hex, or write them to FILE (mode 0600) for "
                                   "[web] token_file or --web-token-file.")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the token to FILE (replacing it), mode 0600")
    p.set_defaults(func=cmd_web_token)

    p = sub.add_parser("demo", help="the main job on defaults: camera if there is one, else bundled photos",
                       description="Classify what the camera sees; without a camera, classify the bundled sample "
                                   "photos.")
    p.add_argument("--model", default=None, help=f"model for the camera (default {DEFAULT_MODEL})")
    p.add_argument("--count", type=bounded(int, 1, 10 ** 9), default=10,
                   help="frames to classify from a camera (default 10)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("evaluate", help="measure a model on your own labelled photos",
                       description="Classify every photo in FOLDER/<label>/ (and FOLDER/nothing/, for scenes that "
                                   "should get \"nothing in view\"); print per-class accuracy, the nothing-in-view "
                                   "rate and a confusion matrix.")
    _add_model_options(p)
    p.add_argument("folder", type=Path, help="a folder with one sub-folder per label, and nothing/")
    p.add_argument("--map", metavar="FOLDER=LABEL,...",
                   help="sub-folders named otherwise, e.g. pants=Trouser,t-shirt=T-shirt/top (or =nothing)")
    p.add_argument("--json", action="store_true", help="the same as one JSON object")
    p.add_argument("--report", type=Path, metavar="DIR",
                   help="also save the confusion matrix as DIR/<model>-evaluate.png")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="list bundled and taught models with their measured accuracy")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("teach", help="fit a new photo model on the Pi from a folder per class",
                       description="Fit a new photo model from FOLDER/<class>/ photos (or FOLDER/train/<class>/, "
                                   "with FOLDER/validation/<class>/ to measure it): the bundled ImageNet backbone "
                                   "looks at each example, a head is fitted in NumPy, and \"nothing in view\" is "
                                   "calibrated on the examples themselves. No TensorFlow; 10-20 examples per class "
                                   "are enough to start.")
    p.add_argument("name", help="the new model's name: letters, digits, '-' and '_' (e.g. pets)")
    p.add_argument("--from", dest="folder", type=Path, required=True, metavar="FOLDER",
                   help="a folder with one sub-folder of photos per class")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write NAME.npz and NAME.json (default: $PICLASSIFY_MODELS, else "
                        "~/.local/share/piclassify/models, where --model NAME finds it)")
    p.add_argument("--per-class", type=bounded(int, 2, 10 ** 6), default=None, metavar="N",
                   help="learn from the first N photos of each class only")
    p.add_argument("--size", type=bounded(int, 96, 320), default=None,
                   help="the backbone's input size, 96-320 (default 224; smaller is faster)")
    p.add_argument("--threads", type=bounded(int, 1, 64), default=None,
                   help="interpreter threads, 1-64 (default: the usable cores, at most 4)")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, default=None)
    p.add_argument("--force", action="store_true", help="replace a model of the same name in --out")
    p.add_argument("--region", metavar="X,Y,W,H",
                   help="crop each example to this part of the frame first (fractions, as `run --region` and "
                        "[[region]]): for a model that reads one region of the camera's frames")
    p.set_defaults(func=cmd_teach)

    p = sub.add_parser("info", help="show a model's contract and the runtime in use")
    p.add_argument("model", help="bundled model name, or a model's .tflite, .npz or .json path")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, default=None)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="per-stage latency, frames per second, peak memory",
                       description="Benchmark the pipeline on in-memory 640x480 frames (default) or a real source.")
    _add_model_options(p, threads=False)
    p.add_argument("--threads", type=thread_counts, default=(1, 2, 4), metavar="N[,N...]",
                   help="interpreter threads to time, each in turn (default 1,2,4)")
    p.add_argument("--source", default="memory", help="memory (default), or a source as for `run`")
    p.add_argument("--frames", type=bounded(int, 1, 10 ** 7), default=500,
                   help="frames to time for each thread count (default 500)")
    p.add_argument("--no-cold-start", action="store_true", help="skip timing a fresh process's first prediction")
    p.set_defaults(func=cmd_bench)

    add_import_command(sub)
    add_fleet_command(sub)
    _add_service_commands(sub)
    return parser


def thread_counts(text: str) -> tuple[int, ...]:
    """An argparse type: thread counts from 1 to 64, separated by commas (``1,2,4``)."""
    parse = bounded(int, 1, 64)
    return tuple(parse(part) for part in text.split(","))


def bounded(kind: Callable[[str], Number], low: float, high: float) -> Callable[[str], Number]:
    """An argparse type: a finite ``kind`` from ``low`` to ``high``; NaN, infinity and the rest are refused, and the
    bounds are said in plain numbers (``1,000,000``, never ``1e+06``)."""
    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") \
                from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is too small: at least {plain_number(low)}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{text} is too large: at most {plain_number(high)}")
        if not math.isfinite(value):  # NaN
            raise argparse.ArgumentTypeError(f"{text} is not a number from {plain_number(low)} to {plain_number(high)}")
        return value
    return parse


def plain_number(value: float) -> str:
    """``1000000`` -> ``1,000,000``; ``0.001`` -> ``0.001``: how a person writes it."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6f}".rstrip("0")


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="auto",
                   help="auto (Pi camera, then first USB camera), picamera2, usb:N, /dev/videoN, a video file, "
                        "or images (files, folders, globs)")
    p.add_argument("--size", default="640x480", help="capture size WxH (default 640x480)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--every", type=bounded(float, 0.001, 86400), metavar="SECONDS",
                      help="classify one frame every SECONDS (up to a day)")
    pace.add_argument("--max-fps", type=bounded(float, 0.001, 1000), metavar="N",
                      help="classify at most N frames per second")
    p.add_argument("--min-score", type=bounded(float, 0, 1), default=0.0,
                   help="print only results scoring at least this (0-1)")
    p.add_argument("--on-change", action="store_true", help="print a result only when its label changes")
    p.add_argument("--count", type=bounded(int, 1, 10 ** 9), help="stop after this many results")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line (the result schema in README) instead of text")


def _add_service_commands(sub: argparse._SubParsersAction) -> None:
    try:
        from piclassify.device.service.cli import add_service_commands
    except ImportError:
        return
    add_service_commands(sub)


def _listen(text: str) -> tuple[str, int]:
    from piclassify.device.sinks.web.auth import parse_listen

    try:
        return parse_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_predict(args: argparse.Namespace) -> int:
    if args.values is not None or args.csv is not None:
        return predict_table(args)  # before the image imports: the table path never loads OpenCV or Pillow
    if not args.images:
        raise SourceError("predict needs IMAGE files, or --values/--csv for a table model")
    from piclassify.device.commands.debug import save_steps
    from piclassify.device.core.frames import Frame
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.sources.images import expand_image_paths
    from piclassify.shared.files.imagefile import read_image
    from piclassify.shared.framing.framed import FramingSteps

    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    failures = 0
    for number, path in enumerate(expand_image_paths(args.images)):
        steps = FramingSteps() if args.debug_dir else None
        try:
            frame = Frame(read_image(path), time.time(), number, str(path))
            result = pipeline.classify(frame, steps)
        except PiclassifyError as exc:
            failures += 1
            print(f"piclassify: error: {exc}", file=sys.stderr)
            continue
        if steps is not None:
            save_steps(args.debug_dir, path.stem, frame.rgb, steps)
        print(result.json() if args.json else result.text(), flush=True)
    return 2 if failures else 0


def cmd_web_token(args: argparse.Namespace) -> int:
    from piclassify.device.sinks.web.auth import new_token, write_token

    if args.out is None:
        print(new_token())
        return 0
    write_token(args.out)
    print(f"piclassify: wrote a new web token to {args.out} (mode 0600)", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from piclassify.device.commands.evaluate import evaluate_folder, parse_map
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.shared.confusion import save_confusion_png

    mapping = parse_map(args.map)
    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    evaluation = evaluate_folder(pipeline, args.folder, mapping)
    print(json.dumps(evaluation.record()) if args.json else "\n".join(evaluation.lines()))
    if args.report:
        path = args.report / f"{evaluation.model}-evaluate.png"
        try:
            args.report.mkdir(parents=True, exist_ok=True)
            save_confusion_png(evaluation.matrix, evaluation.labels, evaluation.title(), path)
        except OSError as exc:  # a read-only folder, a file in the way, /proc
            raise OutputError(f"--report {args.report}: cannot save the confusion matrix there: "
                              f"{exc.strerror or exc}") from None
        print(f"piclassify: confusion matrix saved as {path}", file=sys.stderr)
    return 0


def cmd_teach(args: argparse.Namespace) -> int:
    from piclassify.device.core.model_files import user_models_dir
    from piclassify.device.teach.fit import teach

    region = None
    if args.region is not None:
        from piclassify.device.commands.run import region_flag

        config = region_flag(args.region, 1, 1, 1, 0.0)  # the box as --region on `run` reads it
        region = config.region(0.0).box
    teach(args.name, args.folder, args.out or user_models_dir(), args.per_class, args.size, args.threads, args.runtime,
          log=lambda line: print(line, flush=True), force=args.force, region=region)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from piclassify.device.commands.bench import cold_start, in_memory_frames, run_bench, sample_frames
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.sources import open_source
    from piclassify.shared.inference.runtime import default_threads

    reports = {}
    for threads in args.threads:
        pipeline = Pipeline.load(args.model, threads=threads, runtime=args.runtime)
        samples, images = sample_frames(pipeline.manifest.name)
        if args.source == "memory":
            frames = in_memory_frames(images, args.frames + 20)
            where = f"{len(images)} bundled samples as 640x480 RGB frames in memory"
        else:
            source = open_source(args.source)
            frames = (frame for _, frame in zip(range(args.frames + 20), source))
            where = f"{source.name} ({source.layout} frames)"
        print(f"bench: {pipeline.manifest.name} on {where} with {pipeline.classifier.runtime.name} "
              f"{pipeline.classifier.runtime.version}, {threads} thread{'s' if threads > 1 else ''}")
        reports[threads] = run_bench(pipeline, frames)
        for line in reports[threads].lines():
            print(line)
        print()
    if len(reports) > 1:
        print(f"{'threads':<8} {'ms a frame':>10} {'frames/s':>9}   (medians: preprocess + invoke + postprocess)")
        for threads, report in reports.items():
            print(f"{threads:<8} {report.frame_ms:10.2f} {report.fps:9.0f}")
    print(f"default threads here: {default_threads()} (the usable cores, at most 4)")
    if not args.no_cold_start and samples:
        seconds, rss = cold_start(args.model, str(samples[0]))
        uncached = " (PYTHONDONTWRITEBYTECODE is set: modules without a cached .pyc are compiled at every start)" \
            if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
        print(f"cold start: a fresh `piclassify predict` on {samples[0].name} took {seconds:.2f} s, "
              f"peak RSS {rss:.1f} MB{uncached}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="piclassify: %(message)s")
    # Pillow warns and logs about odd files (DecompressionBombWarning, corrupt EXIF, "More samples per
    # pixel than can be decoded"; every PNG chunk at debug level); shared.files.imagefile decides what is
    # readable and says so in one line, so Pillow's own words are noise on the terminal and in the journal.
    warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
    logging.getLogger("PIL").setLevel(logging.CRITICAL)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (PiclassifyError, NoRuntimeError) as exc:
        print(f"piclassify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `piclassify predict ... | head`: the reader has all it wanted
        sys.stdout = None  # nothing left to flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
