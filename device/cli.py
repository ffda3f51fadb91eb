"""``piclassify``: classify images and camera frames on the Pi, with bundled models and no TensorFlow.

Exit codes: 0 success, 2 bad input (unreadable image, unknown model, manifest mismatch, no camera),
each reported as one line naming the file or device.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from piclassify.device.errors import SourceError
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.runtime import NoRuntimeError

DEFAULT_MODEL = "digits"


def _add_model_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--model", required=required, default=None if required else DEFAULT_MODEL,
                   help="bundled model name (see `piclassify models`) or path to a .tflite with its .json beside it")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's choice)")
    p.add_argument("--runtime", choices=("ai-edge-litert", "tflite-runtime", "tensorflow"), default=None,
                   help="force a runtime (default: the first installed, in that order)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="piclassify",
                                     description="Classify images and camera frames offline, with bundled models "
                                                 "(digits, fashion, catsdogs) and no TensorFlow.",
                                     epilog="Run `piclassify COMMAND --help` for each command's options.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("predict", help="classify image files", description="Classify image files, folders or globs.")
    _add_model_options(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders or globs (JPEG, PNG, BMP, WebP)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    p.add_argument("--debug-dir", type=Path, help="save each framing step and the exact model input here")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("run", help="classify frames continuously", description="Classify frames from a camera, "
                       "video or images continuously, a line per result. Ctrl-C stops.")
    _add_model_options(p)
    _add_source_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the main job on defaults: camera if there is one, else bundled photos",
                       description="Classify what the camera sees; without a camera, classify the bundled sample photos.")
    p.add_argument("--model", default=None, help=f"model for the camera (default {DEFAULT_MODEL})")
    p.add_argument("--count", type=int, default=10, help="frames to classify from a camera (default 10)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list bundled models with their measured accuracy")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="show a model's contract and the runtime in use")
    p.add_argument("model", help="bundled model name or .tflite path")
    p.add_argument("--runtime", choices=("ai-edge-litert", "tflite-runtime", "tensorflow"), default=None)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="per-stage latency, frames per second, peak memory",
                       description="Benchmark the pipeline on in-memory 640x480 frames (default) or a real source.")
    _add_model_options(p)
    p.add_argument("--source", default="memory", help="memory (default), or a source as for `run`")
    p.add_argument("--frames", type=int, default=2000, help="frames to time (default 2000)")
    p.add_argument("--no-cold-start", action="store_true", help="skip timing a fresh process's first prediction")
    p.set_defaults(func=cmd_bench)

    _add_service_commands(sub)
    return parser


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="auto",
                   help="auto (Pi camera, then first USB camera), picamera2, usb:N, /dev/videoN, a video file, "
                        "or images (files, folders, globs)")
    p.add_argument("--size", default="640x480", help="capture size WxH (default 640x480)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--every", type=float, metavar="SECONDS", help="classify one frame every SECONDS")
    pace.add_argument("--max-fps", type=float, metavar="N", help="classify at most N frames per second")
    p.add_argument("--min-score", type=float, default=0.0, help="print only results scoring at least this (0-1)")
    p.add_argument("--count", type=int, help="stop after this many results")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")


def _add_service_commands(sub: argparse._SubParsersAction) -> None:
    try:
        from piclassify.device.service.cli import add_service_commands
    except ImportError:
        return
    add_service_commands(sub)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SourceError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    return width, height


def cmd_predict(args: argparse.Namespace) -> int:
    from piclassify.device.debug import save_steps
    from piclassify.device.output import result_json, result_line
    from piclassify.device.pipeline import Pipeline
    from piclassify.device.sources.images import expand_image_paths
    from piclassify.shared.framing import FramingSteps
    from piclassify.shared.imagefile import read_image

    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    failures = 0
    for path in expand_image_paths(args.images):
        try:
            image = read_image(path)
            steps = FramingSteps() if args.debug_dir else None
            result = pipeline.classify_image(image, steps)
        except PiclassifyError as exc:
            failures += 1
            print(f"piclassify: error: {exc}", file=sys.stderr)
            continue
        if steps is not None:
            save_steps(args.debug_dir, path.stem, image, steps)
        print(result_json(str(path), result) if args.json else result_line(str(path), result), flush=True)
    return 2 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    from piclassify.device.pipeline import Pipeline
    from piclassify.device.sources import open_source

    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    with open_source(args.source, _size(args.size)) as source:
        print(f"piclassify: classifying {source.name} with {pipeline.manifest.name} "
              f"({pipeline.classifier.runtime.name} {pipeline.classifier.runtime.version}); Ctrl-C stops",
              file=sys.stderr, flush=True)
        return _classify_stream(pipeline, source, args)


def _classify_stream(pipeline, source, args: argparse.Namespace) -> int:
    from piclassify.device.output import result_json, result_line

    interval = args.every if args.every else (1.0 / args.max_fps if args.max_fps else 0.0)
    shown = 0
    next_due = time.monotonic()
    try:
        for frame in source:
            now = time.monotonic()
            if now < next_due:
                continue
            next_due = now + interval
            result = pipeline.classify(frame)
            if result.score < args.min_score:
                continue
            stamp = time.strftime("%H:%M:%S", time.localtime(frame.timestamp))
            if args.json:
                print(result_json(frame.origin, result, frame=frame.index, time=frame.timestamp), flush=True)
            else:
                print(f"{stamp} #{frame.index} " + result_line(frame.origin, result), flush=True)
            shown += 1
            if args.count and shown >= args.count:
                break
            if interval:
                time.sleep(max(0.0, next_due - time.monotonic()))
    except KeyboardInterrupt:
        print("piclassify: stopped", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from piclassify.device.bundled import SAMPLES_DIR, bundled_model_paths
    from piclassify.device.errors import CameraError
    from piclassify.device.output import result_line
    from piclassify.device.pipeline import Pipeline
    from piclassify.device.sources import open_source
    from piclassify.shared.imagefile import read_image

    try:
        source = open_source("auto")
    except CameraError as exc:
        print(f"piclassify demo: {exc}; classifying the bundled sample photos instead", flush=True)
    else:
        pipeline = Pipeline.load(args.model or DEFAULT_MODEL)
        with source:
            print(f"piclassify demo: {source.name} with model {pipeline.manifest.name}", flush=True)
            run_args = argparse.Namespace(every=None, max_fps=2.0, min_score=0.0, count=args.count, json=False)
            return _classify_stream(pipeline, source, run_args)
    for model_path in bundled_model_paths():
        samples = sorted(SAMPLES_DIR.glob(f"{model_path.stem}-*"))
        if not samples:
            continue
        pipeline = Pipeline.load(str(model_path))
        accuracy = pipeline.manifest.metrics.get("tflite_accuracy")
        print(f"\n{pipeline.manifest.name} (test accuracy {100 * accuracy:.2f}%):" if accuracy else
              f"\n{pipeline.manifest.name}:")
        for sample in samples:
            print("  " + result_line(sample.name, pipeline.classify_image(read_image(sample))), flush=True)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from piclassify.device.bundled import bundled_model_paths
    from piclassify.shared.manifest import load_manifest

    print(f"{'name':<10} {'task':<10} {'classes':>7} {'input':<12} {'accuracy':>9} {'size':>9}  test set")
    for path in bundled_model_paths():
        m = load_manifest(path)
        accuracy = m.metrics.get("tflite_accuracy")
        shown = f"{100 * accuracy:.2f}%" if accuracy is not None else "n/a"
        size = f"{path.stat().st_size / 1024:.0f} KiB"
        print(f"{m.name:<10} {m.task:<10} {len(m.labels):>7} {m.height}x{m.width}x{m.channels:<5} {shown:>9} "
              f"{size:>9}  {m.metrics.get('test_set', '')}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from piclassify.device.pipeline import Pipeline

    pipeline = Pipeline.load(args.model, runtime=args.runtime)
    m = pipeline.manifest
    rows = [
        ("model", str(pipeline.model_path)),
        ("runtime", f"{pipeline.classifier.runtime.name} {pipeline.classifier.runtime.version}"),
        ("task", m.task + (f" (threshold {m.threshold})" if m.task == "binary" else "")),
        ("labels", ", ".join(m.labels)),
        ("input", f"{m.height}x{m.width}x{m.channels} {m.colour}, {m.input.dtype} "
                  f"(scale {m.input.quantization.scale:.6g}, zero point {m.input.quantization.zero_point})"),
        ("framing", f"resize {m.resize}, polarity {m.polarity}, scaling {m.scaling.mode}"),
        ("output", f"{m.output.dtype} (scale {m.output.quantization.scale:.6g}, zero point "
                   f"{m.output.quantization.zero_point}) -> {'sigmoid' if m.task == 'binary' else 'softmax'}"),
        ("metrics", ", ".join(f"{k} {v}" for k, v in m.metrics.items())),
        ("converted by", ", ".join(f"{k} {v}" for k, v in m.versions.items())),
        ("sha256", m.sha256),
    ]
    for key, value in rows:
        print(f"{key:>13}: {value}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from piclassify.device.bench import cold_start, in_memory_frames, run_bench
    from piclassify.device.bundled import SAMPLES_DIR
    from piclassify.device.pipeline import Pipeline
    from piclassify.device.sources import open_source
    from piclassify.shared.framing import resize_area
    from piclassify.shared.imagefile import read_image

    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    samples = sorted(SAMPLES_DIR.glob(f"{pipeline.manifest.name}-*")) or sorted(SAMPLES_DIR.glob("*.jpg"))
    if args.source == "memory":
        images = [resize_area(read_image(p), 640, 480) for p in samples]
        frames = in_memory_frames(images, args.frames + 20)
        where = f"{len(images)} bundled samples as 640x480 frames in memory"
    else:
        source = open_source(args.source)
        frames = (frame.image for _, frame in zip(range(args.frames + 20), source))
        where = source.name
    print(f"bench: {pipeline.manifest.name} on {where} with {pipeline.classifier.runtime.name} "
          f"{pipeline.classifier.runtime.version}")
    for line in run_bench(pipeline, frames).lines():
        print(line)
    if not args.no_cold_start and samples:
        seconds, rss = cold_start(args.model, str(samples[0]))
        print(f"cold start: a fresh `piclassify predict` on {samples[0].name} took {seconds:.2f} s, "
              f"peak RSS {rss:.1f} MB")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="piclassify: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (PiclassifyError, NoRuntimeError) as exc:
        print(f"piclassify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
