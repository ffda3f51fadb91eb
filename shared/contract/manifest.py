"""The model manifest: the JSON file beside every ``.tflite`` that says how to feed and read it.

The trainer writes it, the device reads it, and neither side guesses: input shape, colour,
polarity, scaling, resize mode, quantization and labels all come from here. ``load_manifest``
refuses a manifest that does not describe the model file next to it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest_fields import check_fields
from piclassify.shared.contract.reject import Reject, reject_problem
from piclassify.shared.errors import ManifestError

SCHEMA_VERSION = 1
TASKS = ("multiclass", "binary", "regression")
COLOURS = ("gray", "rgb", "bgr")
POLARITIES = ("light-on-dark", "dark-on-light", "any")
SCALINGS = ("unit", "symmetric", "centred", "minmax", "meanstd")
RESIZE_MODES = ("squash", "centre-crop", "letterbox", "object", "object-fill", "garment")
# How a photo is resized to the input: ``area`` is piclassify's own (area averaging, then one linear step); the
# others repeat another tool's documented code, for models made there: ``nearest`` (Keras' load_img, Pillow's),
# ``bilinear`` (tf.image.resize, the TFLite Task Library; no antialiasing) and ``lanczos`` (Pillow's, Teachable
# Machine's ImageOps.fit)
RESAMPLES = ("area", "nearest", "bilinear", "lanczos")
DTYPES = ("float32", "float16", "int8", "uint8")

_LATER_FIELDS = {"resample": "area", "activation_in_model": False}  # left out of a manifest while they are these


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
    ``centred`` is (x - 127) / 128 (EfficientNet-Lite's, which its BatchNorm statistics were measured with),
    ``minmax`` is per-feature (x - min) / (max - min), as in the workshop's min-max.json; ``meanstd`` is
    (x - mean) / std, one value for every channel or one per channel, as TFLite metadata says it (Model Maker:
    127.5 and 127.5; a Keras model taking 0..255: 0 and 1; a uint8 model fed its pixels as they are: its input's
    zero point and 1/scale).
    """

    mode: str = "unit"
    minimum: tuple[float, ...] = ()
    maximum: tuple[float, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()


@dataclass(frozen=True)
class TensorSpec:
    """One model tensor as the manifest promises it: shape without batch, dtype, quantization."""

    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization = Quantization()


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
class Backbone:
    """The ImageNet network a model stands on: one ``.tflite`` beside the manifest, shared by the models there.

    It sees a frame as an RGB square of ``size`` pixels (``resize``, ``scaling``; the network is fully
    convolutional, so one file runs at any size and each model says which) and gives two vectors:
    ``features`` (what a head learns classes from) and ``logits`` (its 1000 ImageNet classes: how the
    world looks to it, in which a frame is compared with the photos a model learnt from). ``input``
    gives the input's dtype and quantization; its shape is (size, size, 3).
    """

    model_file: str
    sha256: str
    size: int
    input: TensorSpec
    features: TensorSpec
    logits: TensorSpec
    scaling: Scaling = Scaling("centred")
    resize: str = "centre-crop"


@dataclass(frozen=True)
class Head:
    """What a model learnt on top of its backbone, in ``file`` (a NumPy ``.npz`` beside the manifest).

    Every head holds the backbone's view (logits) of the photos the model learnt from, to which each frame
    is compared (its mean similarity to the ``neighbours`` nearest, against ``reject.min_similarity``); with
    ``classifies`` it also holds a linear classifier over the backbone's features that names the label, and
    the model is all head (``model_file`` is this file); otherwise the model's own ``.tflite`` names it.
    """

    file: str
    sha256: str
    classifies: bool
    neighbours: int


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
    backbone: Optional[Backbone] = None  # models on an ImageNet backbone (see Backbone, Head)
    head: Optional[Head] = None
    resample: str = "area"  # see RESAMPLES
    # True when the model's graph ends in its own softmax or sigmoid (an imported model), so that its output is
    # already probabilities; piclassify's own image models end in logits (a table model says it in its table)
    activation_in_model: bool = False
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("colour", self.colour, COLOURS)
        _check_choice("polarity", self.polarity, POLARITIES)
        _check_choice("scaling.mode", self.scaling.mode, SCALINGS)
        _check_choice("resize", self.resize, RESIZE_MODES)
        _check_choice("resample", self.resample, RESAMPLES)
        _check_choice("input.dtype", self.input.dtype, DTYPES)
        _check_choice("output.dtype", self.output.dtype, DTYPES)
        expected_channels = 1 if self.colour == "gray" else 3
        if self.channels != expected_channels:
            raise ManifestError(f"colour {self.colour!r} needs {expected_channels} channel(s), not {self.channels}")
        if self.reject.background_label is not None and self.reject.background_label not in self.labels:
            raise ManifestError(f"reject.background_label {self.reject.background_label!r} is not one of the labels")
        if self.backbone is not None:
            _check_choice("backbone.resize", self.backbone.resize, ("squash", "centre-crop", "letterbox"))
            _check_choice("backbone.scaling.mode", self.backbone.scaling.mode, ("unit", "symmetric", "centred"))
        if self.head is not None and self.backbone is None:
            raise ManifestError("a head section needs a backbone section")
        problem = reject_problem(self.reject, self.backbone is not None, self.head is not None)
        if problem:
            raise ManifestError(problem)
        if self.table is not None:
            _check_table(self)
        elif self.task == "regression":
            raise ManifestError("a regression model needs a table section (features and target)")
        elif self.is_all_head:
            _check_head_model(self)
        elif self.input.shape not in image_shapes(self.height, self.width, self.channels):
            raise ManifestError(f"input shape {self.input.shape} does not match "
                                f"{self.height}x{self.width}x{self.channels}")
        outputs = len(self.labels) if self.task == "multiclass" else 1
        if self.task == "binary" and len(self.labels) != 2:
            raise ManifestError(f"a binary model needs exactly 2 labels, not {len(self.labels)}")
        if self.task == "multiclass" and len(self.labels) < 2:
            raise ManifestError("a multiclass model needs at least 2 labels")
        if self.output.shape != (outputs,):
            raise ManifestError(f"output shape {self.output.shape} does not match {outputs} output(s) for task "
                                f"{self.task!r}")
        if self.scaling.mode == "minmax" and len(self.scaling.minimum) != len(self.scaling.maximum):
            raise ManifestError("scaling minimum and maximum must have the same length")
        if self.scaling.mode == "meanstd" and not (self.scaling.mean and self.scaling.std):
            raise ManifestError("meanstd scaling needs a mean and a std")

    @property
    def outputs_probabilities(self) -> bool:
        """The model's output is already probabilities (its graph ends in softmax or sigmoid)."""
        return self.activation_in_model or (self.table is not None and self.table.activation_in_model)

    def backbone_sections(self) -> tuple[Backbone, Head]:
        """The backbone and head sections of a model on the backbone (``ManifestError`` for any other model)."""
        if self.backbone is None or self.head is None:
            raise ManifestError(f"{self.name}: not a model on the ImageNet backbone")
        return self.backbone, self.head

    @property
    def is_all_head(self) -> bool:
        """A photo model that is a head on the backbone and nothing more: no ``.tflite`` of its own."""
        return self.head is not None and self.head.classifies and self.model_file == self.head.file

    @property
    def measured_accuracy(self) -> Optional[tuple[float, str]]:
        """What the model was measured at, and on what: its test set's accuracy; for a model taught from examples
        alone, its examples each left out in turn (cross-validated). None when nothing was measured."""
        if isinstance(self.metrics.get("tflite_accuracy"), (int, float)):
            return float(self.metrics["tflite_accuracy"]), str(self.metrics.get("test_set") or "its test set")
        if isinstance(self.metrics.get("cross_validated_accuracy"), (int, float)):
            return float(self.metrics["cross_validated_accuracy"]), "its examples, each left out (cross-validated)"
        return None

    def to_json(self) -> str:
        data = asdict(self)
        for optional in ("table", "backbone", "head"):
            if data[optional] is None:
                del data[optional]  # manifests without them stay as they were
        for key, default in _LATER_FIELDS.items():  # ... and readable by a piclassify from before these fields
            if data[key] == default:
                del data[key]
        for key in ("mean", "std"):
            if not data["scaling"][key]:
                del data["scaling"][key]
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        """Build a manifest from parsed JSON, turning any missing or odd field into ``ManifestError``."""
        try:
            version = int(data.get("schema_version", 0))
            if version != SCHEMA_VERSION:
                raise ManifestError(f"schema_version {version} is not supported (this piclassify reads "
                                    f"{SCHEMA_VERSION})")
            fields = dict(data)
            fields["labels"] = tuple(str(label) for label in data["labels"])
            fields["scaling"] = _scaling(data["scaling"])
            fields["input"] = _tensor_spec(data["input"])
            fields["output"] = _tensor_spec(data["output"])
            if data.get("reject") is not None:
                fields["reject"] = Reject(**data["reject"])
            if data.get("table") is not None:
                fields["table"] = _table(data["table"])
            if data.get("backbone") is not None:
                fields["backbone"] = backbone_from_dict(data["backbone"])
            if data.get("head") is not None:
                fields["head"] = Head(**data["head"])
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


def _scaling(data: Mapping[str, Any]) -> Scaling:
    values = {key: tuple(float(v) for v in data.get(key, ())) for key in ("minimum", "maximum", "mean", "std")}
    return Scaling(mode=data.get("mode", "unit"), **values)


def image_shapes(height: int, width: int, channels: int) -> tuple[tuple[int, ...], ...]:
    """The input shapes an image of height x width x channels may be fed as: as it is; without its one channel
    (a Keras model that begins ``Input((28, 28))``); or flat (``Input((784,))``, the workshop's Dense MNIST)."""
    shapes: tuple[tuple[int, ...], ...] = ((height, width, channels),)
    if channels == 1:
        shapes += ((height, width),)
    return shapes + ((height * width * channels,),)


def backbone_from_dict(data: Mapping[str, Any]) -> Backbone:
    """The ``backbone`` section of a manifest (or of a backbone's own description) from parsed JSON."""
    fields = dict(data)
    for key in ("input", "features", "logits"):
        fields[key] = _tensor_spec(data[key])
    if "scaling" in data:
        fields["scaling"] = _scaling(data["scaling"])
    return Backbone(**fields)


def _table(data: Mapping[str, Any]) -> Table:
    return Table(features=tuple(str(name) for name in data["features"]), target=str(data["target"]),
                 unit=str(data.get("unit", "")), activation_in_model=bool(data.get("activation_in_model", False)))


def _check_table(manifest: "Manifest") -> None:
    """A tabular model reads one row: one min-max bound pair per feature, a regression has no labels."""
    table = manifest.table
    if table is None:
        raise ManifestError("a table model needs a table section")
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


def _check_head_model(manifest: "Manifest") -> None:
    """A model that is all head sees what its backbone sees, and maps the backbone's features to its labels."""
    backbone, head = manifest.backbone_sections()
    if manifest.sha256 != head.sha256:
        raise ManifestError("a model that is all head has its head file's sha256 as its own")
    image = (manifest.height, manifest.width, manifest.channels, manifest.colour, manifest.scaling, manifest.resize)
    if image != (backbone.size, backbone.size, 3, "rgb", backbone.scaling, backbone.resize):
        raise ManifestError(f"a model that is all head sees what its backbone sees: {backbone.size}x{backbone.size}x3 "
                            f"rgb, scaling {backbone.scaling.mode}, resize {backbone.resize}")
    if manifest.input.shape != backbone.features.shape or manifest.input.dtype != "float32":
        raise ManifestError(f"a head's input is the backbone's features, float32 {backbone.features.shape}")


def _check_choice(key: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ManifestError(f"{key} is {value!r}; expected one of {', '.join(allowed)}")


def manifest_path_for(model_path: Path) -> Path:
    """The manifest lives beside its model: ``digits.tflite`` -> ``digits.json``."""
    return Path(model_path).with_suffix(".json")


def write_manifest(manifest: Manifest, path: Path) -> None:
    from piclassify.shared.files.atomic_file import write_atomically

    write_atomically(Path(path), manifest.to_json().encode("utf-8"))


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
        check_fields(data, Manifest, SCHEMA_VERSION)
        manifest = Manifest.from_dict(data)
    except ManifestError as exc:
        raise ManifestError(f"{json_path}: {exc}") from None
    try:
        actual = sha256_of(model_path)
    except OSError as exc:
        raise ManifestError(f"{model_path}: cannot read: {exc.strerror or exc}") from None
    if actual != manifest.sha256:
        raise ManifestError(f"{json_path}: sha256 does not match {model_path.name} (manifest "
                            f"{manifest.sha256[:12]}…, file {actual[:12]}…)")
    return manifest
