"""How to read a photo into a model made elsewhere: what its file cannot say, as each tool documents it.

A reading is the scaling of the pixels, the resize (and the resampling the tool's code uses), the channel
order, and for a gray model whether it wants a light object on dark (MNIST) or dark on light. Each tool's
documented default:

- **Teachable Machine** (its Python snippet): ``ImageOps.fit`` to 224x224 with Lanczos, RGB, ``x / 127.5 - 1``;
  its quantized model takes the pixel bytes as they are (its Android and Coral code).
- **TFLite metadata** (Model Maker, MediaPipe; the Task Library feeds it): the whole photo resized
  bilinearly, ``(x - mean) / std`` from the metadata, then the input's quantization.
- **A course or workshop model** (the notebook's ``load_img(path, target_size)`` and ``/ 255``): squashed with
  Pillow's nearest pixel, ``x / 255``; a 28x28 gray model is MNIST's: the object cut out, light on dark.

``candidates`` lists every plausible reading for ``--check`` to measure; the flags fix what the user knows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product
from typing import Mapping, Optional

from piclassify.shared.contract.manifest import Manifest, Scaling
from piclassify.shared.contract.reject import Reject
from piclassify.shared.imports.model_file import ModelFile

SCALES = ("0..1", "-1..1", "0..255", "bytes")
RESIZES = {"crop": "centre-crop", "squash": "squash", "pad": "letterbox", "object": "object"}
TOOLS = ("teachable-machine", "metadata", "workshop")
# A photo of a digit framed as the bundled digits model frames it: the object must stand out by 24 grey levels, by
# 10 on average, span 2% of the frame, and pieces touching the frame's edge are background (a table, a shadow).
OBJECT_FRAMING = Reject(min_contrast=24.0, min_separation=10.0, min_size=0.02, border_is_background=True)
FRAMING_KEYS = ("min_contrast", "min_separation", "min_size", "border_is_background")


@dataclass(frozen=True)
class Reading:
    """One way to feed the model a photo: ``scale`` names ``scaling`` (``bytes``: a quantized input's pixels as they
    are; ``mean/std``: given or from the metadata), ``resize`` and ``resample`` frame it, ``colour`` orders its
    channels (rgb, bgr or gray) and ``polarity`` says what a gray model wants (``any`` for colour models)."""

    scale: str
    scaling: Scaling
    resize: str
    resample: str
    colour: str
    polarity: str = "any"

    def describe(self) -> str:
        framing = ("the object cut out and centred (MNIST's framing)" if self.resize == "object"
                   else f"{self.resize} ({self.resample})")
        ink = {"light-on-dark": ", a light object on dark", "dark-on-light": ", a dark object on light"}
        scaling = scaling_text(self.scaling) + (" (the pixel bytes as they are)" if self.scale == "bytes" else "")
        return f"{framing}, {scaling}, {self.colour}{ink.get(self.polarity, '')}"


def scaling_text(scaling: Scaling) -> str:
    """``x/255``, ``x/127.5 - 1``, ``(x - 127)/128``, ``(x - 127.5)/127.5``: the arithmetic itself."""
    if scaling.mode == "unit":
        return "x/255"
    if scaling.mode == "symmetric":
        return "x/127.5 - 1"
    if scaling.mode == "centred":
        return "(x - 127)/128"
    mean, std = (",".join(f"{v:g}" for v in values) for values in (scaling.mean, scaling.std))
    return "x" if (mean, std) == ("0", "1") else f"(x - {mean})/{std}"


def scaling_for(scale: str, model: ModelFile) -> Scaling:
    """The ``Scaling`` a scale's name stands for on this model: ``bytes`` is the input's own quantization (the
    value fed is the pixel: a uint8 input's zero point and 1/scale; an int8's, 128 lower)."""
    if scale == "0..1":
        return Scaling("unit")
    if scale == "-1..1":
        return Scaling("symmetric")
    if scale == "0..255" or (scale == "bytes" and not model.quantized_input):
        return Scaling("meanstd", mean=(0.0,), std=(1.0,))
    if scale == "bytes":
        quant = model.input.quantization
        offset = 128 if model.input.dtype == "int8" else 0
        return Scaling("meanstd", mean=(float(quant.zero_point + offset),), std=(1.0 / quant.scale,))
    raise ValueError(f"unknown scale {scale!r}")


def is_digit_like(model: ModelFile) -> bool:
    """A small square gray input: MNIST's 28x28 (or a course's 32x32), which wants one object cut out."""
    return model.channels == 1 and model.height == model.width <= 64


def default_reading(model: ModelFile, tool: str) -> Reading:
    """What the tool that made the model documents (module docstring)."""
    colour = "gray" if model.channels == 1 else "rgb"
    metadata = model.metadata
    if tool == "teachable-machine":
        scale = "bytes" if model.quantized_input else "-1..1"
        return Reading(scale, scaling_for(scale, model), "centre-crop", "lanczos", colour)
    if tool == "metadata" and metadata is not None:
        if metadata.colour == "gray" and model.channels == 1:
            colour = "gray"
        if metadata.mean and metadata.std:
            scaling = Scaling("meanstd", mean=metadata.mean, std=metadata.std)
            return Reading("mean/std", scaling, "squash", "bilinear", colour)
        return Reading("bytes", scaling_for("bytes", model), "squash", "bilinear", colour)
    scale = "bytes" if model.quantized_input else "0..1"
    if is_digit_like(model):
        return Reading(scale, scaling_for(scale, model), "object", "area", colour, "light-on-dark")
    return Reading(scale, scaling_for(scale, model), "squash", "nearest", colour)


def with_flags(reading: Reading, model: ModelFile, flags: Mapping[str, Optional[str]],
               scaling: Optional[Scaling] = None) -> Reading:
    """``reading`` with what the user said: ``scale``, ``resize`` (crop, squash, pad, object), ``resample``,
    ``colour``, ``ink``; ``scaling`` (from --mean/--std) wins over ``scale``."""
    if scaling is not None:
        reading = replace(reading, scale="mean/std", scaling=scaling)
    elif flags.get("scale"):
        reading = replace(reading, scale=str(flags["scale"]), scaling=scaling_for(str(flags["scale"]), model))
    if flags.get("resize"):
        reading = replace(reading, resize=RESIZES[str(flags["resize"])])
    if flags.get("resample"):
        reading = replace(reading, resample=str(flags["resample"]))
    if flags.get("colour"):
        reading = replace(reading, colour=str(flags["colour"]))
    if flags.get("ink"):
        reading = replace(reading, polarity=str(flags["ink"]))
    if reading.colour == "gray" and reading.polarity == "any":
        reading = replace(reading, polarity="dark-on-light")  # a photo's own: ink on paper, as it is
    return reading


def candidates(default: Reading, model: ModelFile, fixed: Mapping[str, Optional[str]]) -> list[Reading]:
    """Every plausible reading, the default first: scales x resizes x colours (x inks, for a gray model), less
    what ``fixed`` (the flags given) settles. A quantized input settles its scale itself: its quantization covers
    exactly the range it was calibrated on, which is what it was trained on."""
    if fixed.get("scale") or model.quantized_input:  # a quantized input's range is the one it was calibrated on
        scales = [default.scale]
    else:
        scales = _first(default.scale, ["0..1", "-1..1", "0..255"])
    gray = model.channels == 1
    resizes = [default.resize] if fixed.get("resize") else _first(default.resize, (
        ["object", "squash", "centre-crop"] if gray else ["centre-crop", "squash", "letterbox"]))
    colours = [default.colour] if fixed.get("colour") or gray else _first(default.colour, ["rgb", "bgr"])
    inks = [default.polarity] if fixed.get("ink") or not gray else _first(default.polarity,
                                                                            ["light-on-dark", "dark-on-light"])
    readings = []
    for scale, resize, colour, ink in product(scales, resizes, colours, inks):
        scaling = default.scaling if scale == default.scale else scaling_for(scale, model)
        readings.append(Reading(scale, scaling, resize, default.resample, colour, ink))
    return readings


def _first(value: str, values: list[str]) -> list[str]:
    return [value] + [v for v in values if v != value]


def apply_reading(manifest: Manifest, reading: Reading) -> Manifest:
    """``manifest`` fed as ``reading`` says; MNIST's framing brings the bundled digits model's framing checks."""
    reject = manifest.reject
    if reading.resize == "object":
        reject = replace(reject, **{key: getattr(OBJECT_FRAMING, key) for key in FRAMING_KEYS})
    return replace(manifest, scaling=reading.scaling, resize=reading.resize, resample=reading.resample,
                   colour=reading.colour, polarity=reading.polarity, reject=reject)
