"""Write an exported model with its manifest, verified and measured through the shared contract."""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Manifest, Quantization, TensorSpec, manifest_path_for, write_manifest
from piclassify.shared.contract.tensors import output_probabilities, predicted_indices
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.inference.runtime import distribution_version, load_runtime


def producer_versions() -> dict[str, str]:
    """Versions recorded in every manifest; ``tensorflow`` is the converter's, which decides op versions."""
    tensorflow_version = distribution_version("tensorflow")
    if tensorflow_version == "unknown":
        tensorflow_version = distribution_version("tensorflow-cpu")
    return {
        "piclassify": distribution_version("piclassify"),
        "tensorflow": tensorflow_version,
        "keras": distribution_version("keras"),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _spec(detail: Mapping[str, Any]) -> TensorSpec:
    scale, zero_point = detail["quantization"]
    return TensorSpec(tuple(int(v) for v in detail["shape"][1:]), np.dtype(detail["dtype"]).name,
                      Quantization(float(scale), int(zero_point)))


def write_model(tflite: bytes, out_dir: Path, training: Mapping[str, Any], **decided: Any) -> Path:
    """Write ``<name>.tflite`` and its manifest; return the model path.

    ``decided`` holds the ``Manifest`` fields the recipe chose (name, task, labels, colour, polarity,
    scaling, resize, and threshold, reject, mirror_average where they differ from the defaults); the
    tensors' shapes, types and quantization are read off the model file itself.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{decided['name']}.tflite"
    write_atomically(model_path, tflite)
    interpreter = load_runtime().interpreter_class(model_path=str(model_path))
    input_spec = _spec(interpreter.get_input_details()[0])
    output_spec = _spec(interpreter.get_output_details()[0])
    height, width, channels = input_spec.shape
    manifest = Manifest(**decided, height=height, width=width, channels=channels, input=input_spec,
                        output=output_spec, model_file=model_path.name, sha256=sha256_of(model_path),
                        versions=producer_versions(), training=dict(training))
    write_manifest(manifest, model_path.with_suffix(".json"))
    return model_path


def accuracy(probabilities: np.ndarray, y_true: np.ndarray, manifest: Manifest) -> float:
    return float(np.mean(predicted_indices(probabilities, manifest) == y_true))


def record_metrics(model_path: Path, manifest: Manifest, metrics: Mapping[str, Any]) -> Manifest:
    """Rewrite the manifest beside ``model_path`` with more measured metrics (the model file is unchanged)."""
    manifest = replace(manifest, metrics={**manifest.metrics, **metrics})
    write_manifest(manifest, model_path.with_suffix(".json"))
    return manifest


def keras_probabilities(model, x_scaled: np.ndarray, manifest: Manifest) -> np.ndarray:
    """The float Keras model's probabilities, through the same softmax/sigmoid as the device (and, where the
    manifest says so, averaged with its mirror images' as the device does)."""
    probabilities = output_probabilities(model.predict(x_scaled, batch_size=256, verbose=0), manifest)
    if manifest.mirror_average:
        mirrored = output_probabilities(model.predict(x_scaled[:, :, ::-1], batch_size=256, verbose=0), manifest)
        probabilities = (probabilities + mirrored) / 2.0
    return probabilities


def data_name(path: "Path | str", depth: int = 1) -> str:
    """A data folder or file as a manifest records it: its last ``depth`` names (``cats_and_dogs_filtered/validation``),
    never the path on the machine that trained it (``../shared/datasets/...``, a home folder): manifests ship."""
    return "/".join(Path(path).parts[-depth:])


PI_MODELS = "~/.local/share/piclassify/models"  # where `--model NAME` looks on the Pi (or in $PICLASSIFY_MODELS)


def files_for_the_pi(model_path: Path, manifest: Manifest) -> list[Path]:
    """What makes the model on a Pi: its file, its manifest, its head; its backbone only when it is not the one
    bundled with piclassify (which every Pi has, and which the device finds by sha256)."""
    from piclassify.shared.backbone.extractor import bundled_backbone

    model_path = Path(model_path)
    files = [model_path, manifest_path_for(model_path)]
    if manifest.head is not None and manifest.head.file != model_path.name:
        files.append(model_path.parent / manifest.head.file)
    bundled = bundled_backbone()
    if manifest.backbone is not None and (not bundled.is_file() or sha256_of(bundled) != manifest.backbone.sha256):
        files.append(model_path.parent / manifest.backbone.model_file)
    return files


def say_written(model_path: Path, manifest: Manifest, seconds: float, log: Callable[[str], None]) -> None:
    """The run's last lines: what was written, which files to copy to the Pi, and how to try the model there."""
    model_path = Path(model_path)
    files = files_for_the_pi(model_path, manifest)
    log(f"wrote {model_path} and {manifest_path_for(model_path)} in {seconds:.0f} s")
    bundled = manifest.backbone is not None and files[-1].name != manifest.backbone.model_file
    log(f"on the Pi: copy {', '.join(path.name for path in files)} from {model_path.parent} into {PI_MODELS}"
        + (" (its backbone is the one piclassify brings: nothing more to copy)" if bundled else ""))
    if manifest.table is not None:
        log(f"then try it: piclassify predict --model {manifest.name} --values "
            + ",".join(feature.upper() for feature in manifest.table.features))
    else:
        log(f"then try it: piclassify predict --model {manifest.name} PHOTO, or piclassify run --model "
            f"{manifest.name} --source auto for the camera")
