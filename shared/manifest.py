"""The model manifest: the JSON file beside every ``.tflite`` that says how to feed and read it.

The trainer writes it, the device reads it, and neither side guesses: input shape, colour,
polarity, scaling, resize mode, quantization and labels all come from here. ``load_manifest``
refuses a manifest that does not describe the model file next to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from piclassify.shared.errors import ManifestError
from piclassify.shared.manifest_fields import check_fields

SCHEMA_VERSION = 1
TASKS = ("multiclass", "binary", "regression")
COLOURS = ("gray", "rgb")
POLARITIES = ("light-on-dark", "dark-on-light", "any")
SCALINGS = ("unit", "symmetric", "minmax")
RESIZE_MODES = ("squash", "centre-crop", "letterbox", "object", "object-fill", "garment")
DTYPES = ("float32", "float16", "int8", "uint8")


@dataclass(frozen=True)
class Quantization:
    """Affine quantization ``real = scale * (q - zero_point)``; scale 0 means not quantized."""

    scale: float = 0.0
    zero_point: int = 0

    @property
    def is_quantized(self) -> bool:
        return self.scale != 0.0


@dataclass(frozen=True)
class Scaling:
    """How uint8 pixels become the float values the model was trained on.

    ``unit`` is x/255 (the workshop's default), ``symmetric`` maps to [-1, 1] (MobileNet style),
    ``minmax`` is per-feature (x - min) / (max - min), as in the workshop's min-max.json.
    """

    mode: str = "unit"
    minimum: tuple[float, ...] = ()
    maximum: tuple[float, ...] = ()


@dataclass(frozen=True)
class TensorSpec:
    """One model tensor as the manifest promises it: shape without batch, dtype, quantization."""

    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization = Quantization()


@dataclass(frozen=True)
class Reject:
    """When a frame's answer is "nothing in view" rather than a label: the trainer sets and measures it.

    Models framed by ``object``/``object-fill`` decide in the framing: an object must stand out from
    the background by ``min_contrast`` grey levels at its strongest, by ``min_separation`` on average
    over its pixels (texture and sensor noise do not), and span at least ``min_size`` of the frame's
    shorter side; with ``border_is_background``, pieces touching the frame's edge are background
    (a table beyond the paper's edge, a shadow). Photo models decide from the model's output:
    ``background_label`` is a class trained on empty scenes and negatives, and a winning probability
    below ``min_score`` (calibrated by the trainer) is not an answer either. The background class answers
    only when its probability is above ``background_threshold``: at least 0.5, more likely than all the
    other classes together ("is anything in view?" is a yes/no question: a 0.4 background beside 0.35 cat
    and 0.25 dog is an animal, most likely a cat); the trainer raises it as far as its held-out
    negatives allow (``trainer.background.calibrate_threshold``). ``garment`` framing reads
    ``min_separation`` as the colour step across the garment's outline (see ``shared.garment``).
    """

    min_contrast: float = 24.0
    min_separation: float = 0.0
    min_size: float = 0.0
    border_is_background: bool = False
    background_label: Optional[str] = None
    min_score: float = 0.0
    background_threshold: float = 0.5


@dataclass(frozen=True)
class Table:
    """A tabular model's columns: one row of ``features`` in (min-max scaled), the ``target`` out.

    Its input is stored as a 1 x len(features) x 1 "image" so the image fields stay meaningful.
    ``unit`` names a regression target's unit. ``activation_in_model`` is True when the model ends
    in its own sigmoid/softmax, as the workshop's notebook builds it, so its output is already
    probabilities; piclassify's trainer exports logits and the shared code applies the activation.
    """

    features: tuple[str, ...]
    target: str
    unit: str = ""
    activation_in_model: bool = False


@dataclass(frozen=True)
class Manifest:
    """Everything the device needs to know about one model, and how good it measured."""

    name: str
    task: str
    labels: tuple[str, ...]
    height: int
    width: int
    channels: int
    colour: str
    polarity: str
    scaling: Scaling
    resize: str
    input: TensorSpec
    output: TensorSpec
    model_file: str
    sha256: str
    threshold: float = 0.5
    metrics: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    table: Optional[Table] = None  # only tabular models have one
    reject: Reject = Reject()  # a manifest written before "nothing in view" existed gets these defaults
    # True when the model was trained on mirror images too: the device then averages its probabilities for
    # the framed image and its mirror image (two invokes; photo models, never digits)
    mirror_average: bool = False
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("colour", self.colour, COLOURS)
        _check_choice("polarity", self.polarity, POLARITIES)
        _check_choice("scaling.mode", self.scaling.mode, SCALINGS)
        _check_choice("resize", self.resize, RESIZE_MODES)
        _check_choice("input.dtype", self.input.dtype, DTYPES)
        _check_choice("output.dtype", self.output.dtype, DTYPES)
        expected_channels = 1 if self.colour == "gray" else 3
        if self.channels != expected_channels:
            raise ManifestError(f"colour {self.colour!r} needs {expected_channels} channel(s), not {self.channels}")
        if self.reject.background_label is not None and self.reject.background_label not in self.labels:
            raise ManifestError(f"reject.background_label {self.reject.background_label!r} is not one of the labels")
        if self.table is not None:
            _check_table(self)
        elif self.task == "regression":
            raise ManifestError("a regression model needs a table section (features and target)")
        elif self.input.shape != (self.height, self.width, self.channels):
            raise ManifestError(f"input shape {self.input.shape} does not match {self.height}x{self.width}x{self.channels}")
        outputs = len(self.labels) if self.task == "multiclass" else 1
        if self.task == "binary" and len(self.labels) != 2:
            raise ManifestError(f"a binary model needs exactly 2 labels, not {len(self.labels)}")
        if self.task == "multiclass" and len(self.labels) < 2:
            raise ManifestError("a multiclass model needs at least 2 labels")
        if self.output.shape != (outputs,):
            raise ManifestError(f"output shape {self.output.shape} does not match {outputs} output(s) for task {self.task!r}")
        if self.scaling.mode == "minmax" and len(self.scaling.minimum) != len(self.scaling.maximum):
            raise ManifestError("scaling minimum and maximum must have the same length")

    def to_json(self) -> str:
        data = asdict(self)
        if self.table is None:
            del data["table"]  # image manifests stay as they were
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        """Build a manifest from parsed JSON, turning any missing or odd field into ``ManifestError``."""
        try:
            version = int(data.get("schema_version", 0))
            if version != SCHEMA_VERSION:
                raise ManifestError(f"schema_version {version} is not supported (this piclassify reads {SCHEMA_VERSION})")
            fields = dict(data)
            fields["labels"] = tuple(str(label) for label in data["labels"])
            scaling = data["scaling"]
            fields["scaling"] = Scaling(
                mode=scaling["mode"],
                minimum=tuple(float(v) for v in scaling.get("minimum", ())),
                maximum=tuple(float(v) for v in scaling.get("maximum", ())),
            )
            fields["input"] = _tensor_spec(data["input"])
            fields["output"] = _tensor_spec(data["output"])
            if data.get("reject") is not None:
                fields["reject"] = Reject(**data["reject"])
            if data.get("table") is not None:
                fields["table"] = _table(data["table"])
            return cls(**fields)
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest ({type(exc).__name__}: {exc})") from None


def _tensor_spec(data: Mapping[str, Any]) -> TensorSpec:
    quant = data.get("quantization", {})
    return TensorSpec(
        shape=tuple(int(v) for v in data["shape"]),
        dtype=str(data["dtype"]),
        quantization=Quantization(float(quant.get("scale", 0.0)), int(quant.get("zero_point", 0))),
    )


def _table(data: Mapping[str, Any]) -> Table:
    return Table(features=tuple(str(name) for name in data["features"]), target=str(data["target"]),
                 unit=str(data.get("unit", "")), activation_in_model=bool(data.get("activation_in_model", False)))


def _check_table(manifest: "Manifest") -> None:
    """A tabular model reads one row: one min-max bound pair per feature, a regression has no labels."""
    table = manifest.table
    n = len(table.features)
    if n == 0 or len(set(table.features)) != n:
        raise ManifestError(f"table features must be distinct names, got {list(table.features)}")
    if (manifest.height, manifest.width, manifest.channels) != (1, n, 1) or manifest.input.shape != (n,):
        raise ManifestError(f"a table model with {n} features needs input shape ({n},) stored as 1x{n}x1, "
                            f"not {manifest.input.shape} as {manifest.height}x{manifest.width}x{manifest.channels}")
    if manifest.scaling.mode != "minmax" or not len(manifest.scaling.minimum) == len(manifest.scaling.maximum) == n:
        raise ManifestError(f"a table model needs minmax scaling with {n} minimum and maximum values")
    if manifest.task == "regression" and manifest.labels:
        raise ManifestError("a regression model has no labels")


def _check_choice(key: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ManifestError(f"{key} is {value!r}; expected one of {', '.join(allowed)}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest_path_for(model_path: Path) -> Path:
    """The manifest lives beside its model: ``digits.tflite`` -> ``digits.json``."""
    return Path(model_path).with_suffix(".json")


def write_manifest(manifest: Manifest, path: Path) -> None:
    Path(path).write_text(manifest.to_json(), encoding="utf-8")


def load_manifest(model_path: Path) -> Manifest:
    """Read the manifest beside ``model_path`` and check that it belongs to that exact file."""
    model_path = Path(model_path)
    json_path = manifest_path_for(model_path)
    if not model_path.is_file():
        raise ManifestError(f"{model_path}: model file not found")
    if not json_path.is_file():
        raise ManifestError(f"{json_path}: manifest not found beside {model_path.name}")
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{json_path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested or numbered beyond reason
        raise ManifestError(f"{json_path}: not valid JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{json_path}: expected a JSON object")
    try:
        check_fields(data)
        manifest = Manifest.from_dict(data)
    except ManifestError as exc:
        raise ManifestError(f"{json_path}: {exc}") from None
    try:
        actual = sha256_of(model_path)
    except OSError as exc:
        raise ManifestError(f"{model_path}: cannot read: {exc.strerror or exc}") from None
    if actual != manifest.sha256:
        raise ManifestError(f"{json_path}: sha256 does not match {model_path.name} (manifest {manifest.sha256[:12]}…, file {actual[:12]}…)")
    return manifest


def check_tensor_details(manifest: Manifest, input_details: Sequence[Mapping[str, Any]],
                         output_details: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a manifest whose input/output shape, dtype or quantization differs from the model.

    Takes the interpreter's own ``get_input_details()``/``get_output_details()`` so that this
    module stays free of any runtime: LiteRT, tflite-runtime and tf.lite all report the same dicts.
    """
    for role, spec, details in (("input", manifest.input, input_details), ("output", manifest.output, output_details)):
        if len(details) != 1:
            raise ManifestError(f"{manifest.name}: model has {len(details)} {role} tensors, expected 1")
        detail = details[0]
        shape = tuple(int(v) for v in detail["shape"][1:])
        dtype = np.dtype(detail["dtype"]).name
        scale, zero_point = detail.get("quantization", (0.0, 0))
        if shape != spec.shape:
            raise ManifestError(f"{manifest.name}: model {role} shape {shape} does not match manifest {spec.shape}")
        if dtype != spec.dtype:
            raise ManifestError(f"{manifest.name}: model {role} dtype {dtype} does not match manifest {spec.dtype}")
        if not _close(scale, spec.quantization.scale) or int(zero_point) != spec.quantization.zero_point:
            raise ManifestError(
                f"{manifest.name}: model {role} quantization ({scale}, {zero_point}) does not match manifest "
                f"({spec.quantization.scale}, {spec.quantization.zero_point})")


def _close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)), abs(float(b)))
