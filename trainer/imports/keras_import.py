"""``piclassify-train import``: a Keras model (``.h5``, ``.keras``, a SavedModel) becomes a piclassify model.

Teachable Machine's Keras download (``keras_model.h5`` and ``labels.txt``), a course's saved model: converted to
TFLite, int8 calibrated on ``--calibrate`` (or ``--check``) photos read the way the model reads them, else
float16; the TFLite model is checked against Keras on those photos (through the device's own code), and then
imported exactly as ``piclassify import`` imports a ``.tflite`` (``shared.imports.importer``): the same
readings, ``--check``, gate and manifest.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.tensors import InputEncoder
from piclassify.shared.errors import ModelImportError
from piclassify.shared.files.regular_file import read_limited
from piclassify.shared.framing.model_input import frame_for_model
from piclassify.shared.imports.check import labelled_photos
from piclassify.shared.imports.importer import ImportOptions, import_image_model
from piclassify.shared.imports.labels import MAX_LABELS_BYTES, is_numbered, parse_labels_file, parse_labels_text
from piclassify.shared.imports.model_file import open_model_file
from piclassify.shared.inference.runtime import load_runtime
from piclassify.trainer.publish import producer_versions

CALIBRATION_PHOTOS = 200  # at most, for the int8 ranges and the agreement check


def load_keras(path: Path) -> Any:
    """The Keras model at ``path``: an ``.h5`` or ``.keras`` file, or a SavedModel folder (wrapped as a layer)."""
    import keras

    path = Path(path)
    if not path.exists():
        raise ModelImportError(f"{path}: no such file or folder")
    try:
        if path.is_dir():
            layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
            shape = _saved_model_input(path)
            inputs = keras.Input(shape)
            outputs = layer(inputs)
            if isinstance(outputs, dict):
                outputs = next(iter(outputs.values()))
            return keras.Model(inputs, outputs)
        return keras.models.load_model(path, compile=False, custom_objects={"DepthwiseConv2D": _tolerant_depthwise()})
    except ModelImportError:
        raise
    except Exception as exc:  # Keras raises anything from ValueError to OSError on a file it cannot read
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ModelImportError(f"{path}: not a Keras model Keras {keras.__version__} can load ({text})") from None


def _tolerant_depthwise() -> Any:
    """Keras 3's DepthwiseConv2D that takes the ``groups=1`` Teachable Machine's ``.h5`` files (written by Keras 2)
    carry, which Keras 3 refuses."""
    import keras

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        def __init__(self, *args: Any, groups: int = 1, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    return DepthwiseConv2D


def _saved_model_input(path: Path) -> tuple[int, ...]:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    spec = next(iter(signature.structured_input_signature[1].values()))
    return tuple(int(v) for v in spec.shape[1:])


def read_labels(option: str) -> tuple[str, ...]:
    if Path(option).is_file():
        return parse_labels_file(read_limited(Path(option), MAX_LABELS_BYTES, "a labels file"), option)
    return parse_labels_text(option)


def import_keras(path: Path, labels_option: str, options: ImportOptions, calibrate: Optional[Path] = None,
                 quantization: Optional[str] = None, log: Callable[[str], None] = print) -> Path:
    """Convert, check against Keras, and import; returns the written model's path."""
    model = load_keras(path)
    labels = read_labels(labels_option)
    numbered = Path(labels_option).is_file() and is_numbered(Path(labels_option).read_bytes()[:4096])
    options = replace(options, tool="teachable-machine" if numbered else "workshop",
                      training={**options.training, "converted_from": str(path)},
                      versions={**producer_versions(), **options.versions})
    runtime = load_runtime(options.runtime)
    float_model = open_model_file(_convert(model, None), str(path), runtime)
    photos_dir = calibrate or options.check
    with tempfile.TemporaryDirectory(prefix="piclassify-import-") as scratch:  # the reading, measured on float32
        first = replace(options, out_dir=Path(scratch), nothing="off", examples=None)
        _, float_path = import_image_model(float_model, labels, first, log)
        reading = Classifier.load(float_path).manifest
    chosen = quantization or ("int8" if photos_dir is not None else "float16")
    images = _framed(reading, labelled_photos(photos_dir, labels, log).photos) if photos_dir is not None else None
    if chosen == "int8" and images is None:
        raise ModelImportError("int8 needs photos to measure its ranges: give --calibrate DIR (or --check DIR)")
    data = _convert(model, _scaled(reading, images) if chosen == "int8" and images is not None else None, chosen)
    converted = open_model_file(data, f"{path} ({chosen})", runtime)
    metrics = dict(options.metrics)
    if images is not None:
        agreement = _agreement(model, converted, reading, images)
        log(f"TFLite ({chosen}) and Keras agree on {100 * agreement:.1f}% of {len(images)} photos")
        metrics["keras_tflite_agreement"] = round(agreement, 5)
    flags = {"scale": "mean/std", "resize": _flag(reading.resize), "resample": reading.resample,
             "colour": reading.colour, "ink": None if reading.polarity == "any" else reading.polarity}
    final = replace(options, flags=flags, scaling=reading.scaling, metrics=metrics,
                    training={**options.training, "quantization": chosen, "calibrated_on": str(photos_dir or "")})
    _, model_path = import_image_model(converted, labels, final, log)
    return model_path


def _flag(resize: str) -> str:
    return {"centre-crop": "crop", "squash": "squash", "letterbox": "pad", "object": "object"}[resize]


def _framed(manifest: Any, photos: list[np.ndarray]) -> np.ndarray:
    """The photos framed as the chosen reading frames them (those the framing finds nothing in are left out)."""
    framed = [frame_for_model(photo, manifest).image for photo in photos[:CALIBRATION_PHOTOS]]
    kept = [image for image in framed if image is not None]
    if not kept:
        raise ModelImportError("no photo could be framed for the model")
    return np.stack(kept)


def _scaled(manifest: Any, images: np.ndarray) -> np.ndarray:
    """The float32 inputs Keras takes for ``images``: the reading's scaling and channel order, the input's shape."""
    float_manifest = replace(manifest, input=replace(manifest.input, dtype="float32"))
    return InputEncoder(float_manifest).encode_batch(images).astype(np.float32)


def _convert(model: Any, calibration: Optional[np.ndarray], quantization: str = "float32") -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8" and calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([row[np.newaxis]] for row in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter's own errors are many and long
        raise ModelImportError(f"TensorFlow cannot convert it ({' '.join(str(exc).split())[:160]})") from None


def _agreement(model: Any, converted: Any, reading: Any, images: np.ndarray) -> float:
    """Top-1 agreement of Keras and the converted TFLite model, each fed as the device feeds it."""
    from piclassify.shared.contract.tensors import output_probabilities

    keras_scores = np.asarray(model.predict(_scaled(reading, images), verbose=0))
    keras_top = (keras_scores[:, 0] >= 0.5).astype(int) if keras_scores.shape[1] == 1 else keras_scores.argmax(axis=1)
    manifest = replace(reading, input=converted.input, output=converted.output)
    runtime = load_runtime()
    interpreter = runtime.interpreter_class(model_content=converted.data)
    interpreter.allocate_tensors()
    encoder = InputEncoder(manifest)
    tflite_top = []
    for image in images:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], encoder.encode(image))
        interpreter.invoke()
        raw = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        tflite_top.append(int(output_probabilities(raw, manifest).argmax(axis=1)[0]))
    return float(np.mean(keras_top == np.asarray(tflite_top)))
