#!/usr/bin/env python3
"""Each bundled model beside the pipeline a user would otherwise copy (a benchmark, not a test).

Run ``.venv/bin/python scripts/bench_peers.py`` (``--models catsdogs --threads 1``, ``--help``). For each
model it builds one list of labelled 640x480 RGB frames in memory and runs ours and the peers on exactly
those frames, at the same interpreter thread count, in alternating chunks of frames (so that other jobs
on the machine slow all of them alike). It prints, per model and pipeline: frames, accuracy (right answers
/ frames; "nothing in view", or an answer that maps to none of the model's labels, is wrong), the median
milliseconds from the frame in memory to the answer, and frames/s (frames / the summed time of every
frame). The first ``--warmup`` frames are run once untimed beforehand by every pipeline.

The frames (seed ``--seed``; the exact ones are printed):

- digits: MNIST test digits written on paper and photographed (``trainer.data.photos.render_on_paper``).
- fashion: every ``clothing-photos/validation`` photo of the four classes that are Fashion-MNIST classes
  exactly (t-shirt, pants, dress, shirt), up to ``--frames``, letterboxed to 640x480
  (``shared.framing.model_input.frame_rgb(..., "letterbox")``: aspect kept, black bars; most are 240x320 portraits).
- catsdogs: ``cats_and_dogs_filtered/validation`` photos, half cats and half dogs, letterboxed alike.

The pipelines:

- ours: ``Pipeline.load(model, threads=T).classify(Frame(...))``, what ``piclassify run`` does per frame.
- picamera2-style (28x28 models), after picamera2's ``examples/tensorflow/real_time_with_labels.py``: a
  new ``Interpreter(model_path=..., num_threads=T)`` created and allocated for every frame (its creation
  is timed: that is the style), the whole frame to gray and ``cv2.resize`` to 28x28, scaled 0..1,
  quantized with the input's own scale and zero point, top-1.
- label_image-style (28x28 models), after tensorflow/examples' ``label_image.py``: one interpreter, the
  whole frame through ``PIL.Image.fromarray(frame).convert("L").resize((28, 28))``, then as above.
  Both read the image as it is: the manifests say the models want a light item on a dark ground
  ("polarity": "light-on-dark"), a camera sees dark ink on light paper, and a user copying an example
  would not know to invert. "label_image-style, inverted" also flips the pixels (1 - x), to be fair.
- mediapipe-style (photo models: catsdogs and fashion), after the MediaPipe Raspberry Pi image
  classification sample: EfficientNet-Lite0 float32 at 224x224, the whole frame stretched to 224x224
  with ``cv2.resize`` (INTER_LINEAR), ``(x - 127.5) / 127.5`` as its metadata says, one interpreter,
  softmax over the 1000 ImageNet classes, top-1 mapped to our labels. The float model is built once from
  the trainer's own ImageNet weights (``trainer.backbone.efficientnet_lite``, which were fitted for
  ``(x - 127) / 128``: within rounding of MediaPipe's normalization) and cached at ``--cache``.

The ImageNet top-1 -> label mapping (any other class is wrong):

- catsdogs: 281-285 (tabby, tiger cat, Persian, Siamese, Egyptian cat) -> cats; 151-268 (the dog
  breeds) -> dogs (``trainer.backbone.build.CAT_CLASSES`` and ``DOG_CLASSES``).
- fashion: 610 jersey, T-shirt -> T-shirt/top; 608 jean -> Trouser; 578 gown, 655 miniskirt,
  689 overskirt -> Dress. ImageNet has no shirt class, so this peer cannot name Shirt: those frames
  count as wrong for it, and the accuracy on the frames it can name is printed as well.

Needs the datasets (``--data-dir``, default ``$PICLASSIFY_DATA`` or ``../shared/datasets``), the trainer's
dependencies (MNIST renderer; TensorFlow once, in a child process, to build the float model) and Pillow.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np
import PIL
from PIL import Image

# piclassify.device first: it sets OPENBLAS_NUM_THREADS=1 before NumPy loads, as on the device
from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import resolve_model
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.contract.manifest import Quantization, Scaling, load_manifest
from piclassify.shared.contract.scaling import quantize, scale_pixels
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.shared.inference.runtime import Runtime, load_runtime, usable_cores
from piclassify.trainer.backbone.build import CAT_CLASSES, DOG_CLASSES
from piclassify.trainer.data.clothing import MAPPED
from piclassify.trainer.data.datasets import ENV_VAR, load_dataset
from piclassify.trainer.data.photos import render_on_paper

MODELS = ("digits", "fashion", "catsdogs")
FRAME_SIZE = (640, 480)
PEER_SIZE = 224
CACHE = Path.home() / ".cache" / "piclassify" / "efficientnet-lite0-float32.tflite"
CLOTHES = {folder: label for folder, (label, match) in MAPPED.items() if match == "exact"}
PETS = {"cats": "cats", "dogs": "dogs"}  # cats_and_dogs_filtered folder -> catsdogs label
IMAGENET_TO_LABEL = {
    "catsdogs": {**dict.fromkeys(CAT_CLASSES, "cats"), **dict.fromkeys(DOG_CLASSES, "dogs")},
    "fashion": {610: "T-shirt/top", 608: "Trouser", 578: "Dress", 655: "Dress", 689: "Dress"},
}

Answer = Callable[[np.ndarray], Optional[str]]  # an RGB frame -> a label, or None for no answer


@dataclass(frozen=True)
class FrameSet:
    """Labelled camera frames, and where each came from (to print them)."""

    model: str
    images: list[np.ndarray]
    labels: list[str]
    names: list[str]
    made: str  # how the frames were made, one line


@dataclass(frozen=True)
class Contender:
    """A pipeline under test; ``names`` are the labels it can give at all (None: every label)."""

    name: str
    answer: Answer
    names: Optional[frozenset[str]] = None


@dataclass(frozen=True)
class Row:
    """One pipeline's answers (right or not) and seconds, frame by frame."""

    model: str
    pipeline: str
    right: list[bool]
    seconds: list[float]

    @property
    def frames(self) -> int:
        return len(self.right)

    def line(self) -> str:
        accuracy = 100 * sum(self.right) / self.frames
        median_ms = 1e3 * statistics.median(self.seconds)
        fps = self.frames / sum(self.seconds)
        return (f"| {self.model} | {self.pipeline} | {self.frames} | {accuracy:.1f}% | {median_ms:.2f} | "
                f"{fps:,.0f} |")


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[2] / "shared" / "datasets")


# --- frames -----------------------------------------------------------------------------------------------


def digit_frames(data_dir: Path, count: int, seed: int) -> FrameSet:
    """MNIST test digits, chosen and written on paper with one seeded generator."""
    dataset = load_dataset("digits", data_dir, download=None)
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(dataset.x_test))[:count]
    images = [render_on_paper(dataset.x_test[index], rng, FRAME_SIZE) for index in chosen]
    return FrameSet("digits", images, [dataset.labels[dataset.y_test[index]] for index in chosen],
                    [str(index) for index in chosen],
                    f"MNIST test digits (these test-set indices) written on paper, render_on_paper, seed {seed}")


def photo_frames(model: str, split: Path, folders: dict[str, str], count: int, seed: int) -> FrameSet:
    """Photos of ``folders`` (folder -> label), shuffled per class and taken in turn from each class until
    ``count``: balanced as far as the classes allow, and every photo when there are fewer."""
    rng = np.random.default_rng(seed)
    queues = []
    for folder in folders:
        files = sorted(p for p in (split / folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        queues.append([files[i] for i in rng.permutation(len(files))])
    taken = [path for turn in itertools.zip_longest(*queues) for path in turn if path is not None][:count]
    return FrameSet(model, [frame_rgb(read_image(path), *FRAME_SIZE, "letterbox") for path in taken],
                    [folders[path.parent.name] for path in taken], [f"{p.parent.name}/{p.name}" for p in taken],
                    f"{split} photos ({', '.join(folders)}), letterboxed to 640x480, seed {seed}")


def frames_for(model: str, data_dir: Path, count: int, seed: int) -> FrameSet:
    if model == "digits":
        return digit_frames(data_dir, count, seed)
    if model == "fashion":
        return photo_frames(model, data_dir / "clothing-photos" / "validation", CLOTHES, count, seed)
    return photo_frames(model, data_dir / "cats_and_dogs_filtered" / "validation", PETS, count, seed)


# --- pipelines --------------------------------------------------------------------------------------------


def ours(model: str, threads: int) -> Contender:
    pipeline = Pipeline.load(model, threads=threads)
    numbers = itertools.count()
    return Contender("ours", lambda image: pipeline.classify(Frame(image, time.time(), next(numbers), "memory")).label)


def top1(interpreter: Any, tensor: np.ndarray) -> int:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    return int(np.argmax(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]))


def quantized(gray: np.ndarray, detail: dict, invert: bool) -> np.ndarray:
    """28x28 gray pixels scaled 0..1 and quantized with the interpreter's own input scale and zero point."""
    pixels = scale_pixels(gray, Scaling("unit"))
    if invert:
        pixels = 1.0 - pixels
    scale, zero_point = detail["quantization"]
    return quantize(pixels, Quantization(scale, zero_point), np.dtype(detail["dtype"]).name).reshape(detail["shape"])


def picamera2_style(model_path: Path, labels: Sequence[str], runtime: Runtime, threads: int) -> Contender:
    def answer(image: np.ndarray) -> str:
        interpreter = runtime.interpreter_class(model_path=str(model_path), num_threads=threads)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        height, width = detail["shape"][1:3]
        gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (int(width), int(height)))
        return labels[top1(interpreter, quantized(gray, detail, invert=False))]

    return Contender("picamera2-style", answer)


def label_image_style(model_path: Path, labels: Sequence[str], runtime: Runtime, threads: int,
                      invert: bool) -> Contender:
    interpreter = runtime.interpreter_class(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    size = (int(detail["shape"][2]), int(detail["shape"][1]))

    def answer(image: np.ndarray) -> str:
        gray = np.asarray(Image.fromarray(image).convert("L").resize(size))
        return labels[top1(interpreter, quantized(gray, detail, invert))]

    return Contender("label_image-style" + (", inverted" if invert else ""), answer)


def mediapipe_style(model_path: Path, mapping: dict[int, str], runtime: Runtime, threads: int) -> Contender:
    interpreter = runtime.interpreter_class(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()

    def answer(image: np.ndarray) -> Optional[str]:
        pixels = cv2.resize(image, (PEER_SIZE, PEER_SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        return mapping.get(top1(interpreter, ((pixels - 127.5) / 127.5)[np.newaxis]))

    return Contender("mediapipe-style", answer, frozenset(mapping.values()))


def contenders(frames: FrameSet, runtime: Runtime, threads: int, peer_model: Optional[Path]) -> list[Contender]:
    """Ours, then the peers a user of this model would copy."""
    model = frames.model
    model_path = resolve_model(model)
    manifest = load_manifest(model_path)
    unknown = set(frames.labels) - set(manifest.labels)
    if unknown:
        raise SystemExit(f"{model}: frames labelled {sorted(unknown)}, which the model does not have")
    found = [ours(model, threads)]
    if model_path.suffix == ".tflite" and (manifest.height, manifest.width) == (28, 28):
        labels = manifest.labels
        found += [picamera2_style(model_path, labels, runtime, threads),
                  label_image_style(model_path, labels, runtime, threads, invert=False),
                  label_image_style(model_path, labels, runtime, threads, invert=True)]
    if peer_model is not None and model in IMAGENET_TO_LABEL:
        found.append(mediapipe_style(peer_model, IMAGENET_TO_LABEL[model], runtime, threads))
    return found


# --- the float peer model ---------------------------------------------------------------------------------


def build_peer_model(path: Path) -> None:
    """EfficientNet-Lite0 float32 with a softmax over the ImageNet logits, as MediaPipe ships it (no features
    output, no quantization). Runs in a child process: TensorFlow never loads beside the timed runtime."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from piclassify.trainer.backbone.efficientnet_lite import (
        INPUT_SIZE,
        build_efficientnet_lite0,
        load_imagenet_weights,
    )

    model = build_efficientnet_lite0(INPUT_SIZE)
    load_imagenet_weights(model)
    function = tf.function(lambda x: tf.nn.softmax(model(x, training=False)[1]),
                           input_signature=[tf.TensorSpec((1, INPUT_SIZE, INPUT_SIZE, 3), tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], model)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, converter.convert())


def peer_model(path: Path, log: Callable[[str], None]) -> Path:
    if not path.is_file():
        log(f"building the float32 EfficientNet-Lite0 once (TensorFlow, in a child process) -> {path}")
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            pool.submit(build_peer_model, path).result()
    return path


# --- measuring --------------------------------------------------------------------------------------------


def measure(frames: FrameSet, pipelines: list[Contender], warmup: int, chunk: int,
            log: Callable[[str], None]) -> list[Row]:
    """Every pipeline on every frame, pipelines taking turns chunk by chunk; each frame timed on its own."""
    for contender in pipelines:
        for image in frames.images[:warmup]:
            contender.answer(image)
    right: dict[str, list[bool]] = {c.name: [] for c in pipelines}
    seconds: dict[str, list[float]] = {c.name: [] for c in pipelines}
    started = time.perf_counter()
    for start in range(0, len(frames.images), chunk):
        for contender in pipelines:
            for image, label in zip(frames.images[start:start + chunk], frames.labels[start:start + chunk]):
                t0 = time.perf_counter()
                answer = contender.answer(image)
                seconds[contender.name].append(time.perf_counter() - t0)
                right[contender.name].append(answer == label)
        done = min(start + chunk, len(frames.images))
        log(f"{frames.model}: {done}/{len(frames.images)} frames through {len(pipelines)} pipelines "
            f"({time.perf_counter() - started:.0f} s)")
    return [Row(frames.model, c.name, right[c.name], seconds[c.name]) for c in pipelines]


def nameable_note(frames: FrameSet, pipelines: list[Contender], rows: list[Row]) -> Optional[str]:
    """Accuracy on only the frames whose label every pipeline can give, where some peer cannot give some."""
    limits = [c.names for c in pipelines if c.names is not None]
    keep = [i for i, label in enumerate(frames.labels) if all(label in names for names in limits)]
    if len(keep) == len(frames.labels):
        return None
    scores = ", ".join(f"{row.pipeline} {100 * sum(row.right[i] for i in keep) / len(keep):.1f}%" for row in rows)
    return f"{frames.model}, only the {len(keep)} frames of labels every pipeline can name: {scores}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def environment(runtime: Runtime, threads: int, load_before: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    return (f"environment: {usable_cores()} usable of {os.cpu_count()} CPUs ({cpu}); {runtime.name} "
            f"{runtime.version}, {threads} interpreter thread(s); numpy {np.__version__}, opencv {cv2.__version__}, "
            f"pillow {PIL.__version__}, python {platform.python_version()}; load average {load_before} before, "
            f"{load_average()} after")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to measure")
    parser.add_argument("--frames", type=int, default=300, help="frames per model (fashion has 191 at most)")
    parser.add_argument("--threads", type=int, default=2, help="interpreter threads, the same for every pipeline")
    parser.add_argument("--warmup", type=int, default=5, help="frames each pipeline runs untimed first")
    parser.add_argument("--chunk", type=int, default=25, help="frames a pipeline runs before the next takes a turn")
    parser.add_argument("--seed", type=int, default=7, help="which frames, and how digits are written")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help=f"the datasets (default ${ENV_VAR}, else ../shared/datasets)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="the float32 EfficientNet-Lite0 peer model")
    args = parser.parse_args(argv)
    if min(args.frames, args.threads, args.chunk) < 1 or args.warmup < 0:
        parser.error("--frames, --threads and --chunk must be at least 1, --warmup at least 0")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    runtime = load_runtime()
    load_before = load_average()
    peer = peer_model(args.cache, log) if set(args.models) & set(IMAGENET_TO_LABEL) else None
    rows, notes, used = [], [], []
    for model in args.models:
        log(f"{model}: making up to {args.frames} frames")
        frames = frames_for(model, args.data_dir, args.frames, args.seed)
        pipelines = contenders(frames, runtime, args.threads, peer)
        model_rows = measure(frames, pipelines, args.warmup, args.chunk, log)
        rows += model_rows
        notes.append(nameable_note(frames, pipelines, model_rows))
        used.append(f"{model}: {len(frames.images)} frames, {frames.made}: {' '.join(frames.names)}")
    print(environment(runtime, args.threads, load_before))
    if peer is not None:
        print(f"mediapipe-style model: {peer} ({peer.stat().st_size / 2 ** 20:.1f} MiB)")
    print("\n| model | pipeline | frames | accuracy | median ms/frame | frames/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join([row.line() for row in rows] + [note for note in notes if note]))
    print("\nframes used:\n" + "\n".join(used))
    return 0


if __name__ == "__main__":
    sys.exit(main())
