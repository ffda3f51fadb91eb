"""The ImageNet backbone on the device: a photo in, the backbone's features and ImageNet logits out.

One int8 ``.tflite`` (EfficientNet-Lite0, made by ``piclassify-train backbone``) ships with piclassify and serves
every model; each model's manifest names it by file and sha256 and says at what size it looks (``Backbone``).
It is found by that sha256: beside the manifest, else the bundled one (``locate_backbone``). Opened, checked
against that description and run once at load, like every model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from piclassify.shared.backbone.imagenet_classes import NEIGHBOURS, ClassGraph
from piclassify.shared.contract.files_beside import checked_file, file_beside, sha256_of
from piclassify.shared.contract.manifest import Backbone, TensorSpec, backbone_from_dict
from piclassify.shared.contract.scaling import dequantize, input_lut
from piclassify.shared.contract.tensor_check import tensor_problem
from piclassify.shared.errors import ManifestError
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.shared.inference.interpreter import open_interpreter, runtime_step
from piclassify.shared.inference.runtime import Runtime
from piclassify.shared.native_stderr import native_stderr, not_info

BACKBONE_NAME = "efficientnet-lite0"
BACKBONE_FILE = f"{BACKBONE_NAME}.tflite.gz"  # gzipped: 4.4 MB, not 5.3; inflated in memory at load
DESCRIPTION_SUFFIX = ".backbone.json"


def bundled_backbone() -> Path:
    """The backbone that ships inside piclassify (``piclassify/device/models``): every bundled and taught model stands
    on it, and so does the trainer's by default. shared/ and device/ are sibling packages in a wheel and in the
    editable install alike; this is a path, not an import (the trainer never imports the device)."""
    return Path(__file__).resolve().parents[2] / "device" / "models" / BACKBONE_FILE


@lru_cache(maxsize=4)
def _sha256_of_version(path: Path, size: int, mtime_ns: int) -> str:
    """A file's sha256, read once per version of it (the bundled backbone is 4.4 MB; every photo model asks)."""
    return sha256_of(path)


def _bundled_sha256() -> str:
    path = bundled_backbone()
    try:
        stat = path.stat()
        return _sha256_of_version(path, stat.st_size, stat.st_mtime_ns)
    except OSError:
        return ""


def locate_backbone(folder: Path, backbone: Backbone) -> Path:
    """The backbone file a manifest names, found by its sha256: beside the manifest, else the bundled one. So a model
    copied without its backbone runs, and another backbone copied over the one beside it breaks no model that stands
    on the bundled one."""
    beside = file_beside(folder, backbone.model_file, "backbone")  # a path is refused, never looked for elsewhere
    try:
        return checked_file(folder, backbone.model_file, backbone.sha256, "backbone")
    except ManifestError as problem:
        if _bundled_sha256() == backbone.sha256:
            return bundled_backbone()
        raise ManifestError(f"{problem}; nor is it the backbone bundled with piclassify: copy the backbone the model "
                            f"was made with beside it as {beside.name}") from None


def description_path(model_path: Path) -> Path:
    """``efficientnet-lite0.tflite.gz`` -> ``efficientnet-lite0.backbone.json``, written beside it by the trainer."""
    name = Path(model_path).name
    return Path(model_path).with_name(name.split(".", 1)[0] + DESCRIPTION_SUFFIX)


def _read_description(model_path: Path) -> tuple[Path, dict]:
    path = description_path(model_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the backbone's description: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ManifestError(f"{path}: not a backbone description ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a backbone description (not a JSON object)")
    return path, data


def load_description(model_path: Path) -> Backbone:
    """The backbone's description beside its file: the section a new model's manifest copies."""
    path, data = _read_description(model_path)
    try:
        backbone = backbone_from_dict(data["backbone"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: not a backbone description ({type(exc).__name__}: {exc})") from None
    checked_file(path.parent, backbone.model_file, backbone.sha256, "backbone")
    return backbone


def load_class_graph(model_path: Path) -> ClassGraph:
    """The backbone's class graph from its description (``shared.backbone.imagenet_classes``), checked."""
    path, data = _read_description(model_path)
    try:
        neighbours = np.asarray(data["imagenet_neighbours"])
    except KeyError:
        raise ManifestError(f"{path}: the description has no class graph (imagenet_neighbours); write it anew "
                            f"with `piclassify-train backbone --out {path.parent}`") from None
    except ValueError as exc:
        raise ManifestError(f"{path}: imagenet_neighbours is not a table of class numbers ({exc})") from None
    if (neighbours.ndim != 2 or neighbours.shape[1] != NEIGHBOURS or not np.issubdtype(neighbours.dtype, np.integer)
            or neighbours.min() < 0 or neighbours.max() >= len(neighbours)):
        raise ManifestError(f"{path}: imagenet_neighbours must be {NEIGHBOURS} class numbers for each class")
    return ClassGraph(neighbours.astype(np.int16))


class FeatureExtractor:
    """The backbone, opened once for a model: ``frame`` a photo to its input, ``extract`` its two vectors."""

    def __init__(self, folder: Path, backbone: Backbone, runtime: Runtime, threads: Optional[int] = None,
                 converter: str = "unknown") -> None:
        self.backbone = backbone
        self.model_path = locate_backbone(Path(folder), backbone)
        shape = (1, backbone.size, backbone.size, 3)
        lut = input_lut(backbone.scaling, backbone.input.quantization, backbone.input.dtype)
        if lut is None:  # the manifest's checks allow no per-feature scaling for a backbone
            raise ManifestError(f"{self.model_path}: a backbone's scaling is the same for every pixel")
        self._lut = lut
        with native_stderr(keep=not_info):
            self._interpreter = open_interpreter(self.model_path, runtime, threads, converter)
            self._input = self._interpreter.get_input_details()
            if len(self._input) == 1 and tuple(self._input[0]["shape"]) != shape:  # fully convolutional: any size
                runtime_step(lambda: self._interpreter.resize_tensor_input(self._input[0]["index"], shape),
                             self.model_path, runtime, f"take {backbone.size}x{backbone.size} photos")
            runtime_step(self._interpreter.allocate_tensors, self.model_path, runtime, "allocate its tensors")
            self._input_index, self._features, self._logits = self._check_tensors()
            runtime_step(lambda: self.extract(np.zeros(shape[1:], np.uint8)), self.model_path, runtime, "run it")

    def _check_tensors(self) -> tuple[int, dict, dict]:
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        spec = self.backbone
        wanted_input = TensorSpec((spec.size, spec.size, 3), spec.input.dtype, spec.input.quantization)
        problems: list[Optional[str]] = ([tensor_problem("input", wanted_input, inputs[0])] if len(inputs) == 1
                                         else ["not one input"])
        by_width = {int(detail["shape"][-1]): detail for detail in outputs}
        for role, wanted in (("features", spec.features), ("logits", spec.logits)):
            detail = by_width.get(wanted.shape[-1])
            problems.append(tensor_problem(role, wanted, detail) if detail else f"no {role} output of {wanted.shape}")
        if len(outputs) != 2 or spec.features.shape == spec.logits.shape:
            problems.append(f"{len(outputs)} outputs, expected features and logits")
        found = [problem for problem in problems if problem]
        if found:
            raise ManifestError(f"{self.model_path}: the backbone does not match its description: {found[0]}")
        return inputs[0]["index"], by_width[spec.features.shape[-1]], by_width[spec.logits.shape[-1]]

    def frame(self, photo: np.ndarray) -> np.ndarray:
        """Any RGB (or gray) uint8 photo -> the backbone's square RGB input."""
        return frame_rgb(photo, self.backbone.size, self.backbone.size, self.backbone.resize)

    def _encode(self, image: np.ndarray) -> np.ndarray:
        """uint8 pixels -> the input tensor's values, by table: OpenCV's LUT takes a fifth of NumPy's indexing time."""
        table = self._lut.view(np.uint8) if self._lut.dtype == np.int8 else self._lut
        return cv2.LUT(np.asarray(image), table).view(self._lut.dtype)

    def extract(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One framed (size, size, 3) uint8 image -> (features, logits), float32."""
        self._interpreter.set_tensor(self._input_index, self._encode(image)[np.newaxis])
        self._interpreter.invoke()
        features = self._interpreter.get_tensor(self._features["index"])[0]
        return (dequantize(features, self.backbone.features.quantization),
                dequantize(self._interpreter.get_tensor(self._logits["index"])[0], self.backbone.logits.quantization))
