"""A ``.tflite`` image classifier made elsewhere, as the file itself describes it: no TensorFlow.

What its tensors say (the input's size, channels, dtype and quantization; how many outputs), which op makes
its output (its own softmax or sigmoid, or logits), and what its TFLite metadata adds (normalization, colour
space, the labels file attached in a zip at its end). What it cannot say is a reading (``readings``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from piclassify.shared.contract.manifest import Quantization, TensorSpec
from piclassify.shared.errors import ModelImportError
from piclassify.shared.files.zip_members import zip_members
from piclassify.shared.imports.tflite_metadata import ModelMetadata, read_metadata
from piclassify.shared.inference.model_structure import structure_problem
from piclassify.shared.inference.ops import ACTIVATIONS, final_activation
from piclassify.shared.inference.runtime import Runtime

INPUT_DTYPES = ("float32", "uint8", "int8")
MIN_SIDE, MAX_SIDE = 8, 1024  # an image input's sides: MNIST's 28 to a large classifier's 512


@dataclass(frozen=True)
class ModelFile:
    """A classifier's file and what it says about itself."""

    data: bytes
    origin: str  # where it came from, for messages
    input: TensorSpec
    output: TensorSpec
    height: int
    width: int
    channels: int
    outputs: int
    activation: str  # "softmax", "sigmoid" or "none" (logits)
    metadata: Optional[ModelMetadata] = None
    attached: dict[str, bytes] = field(default_factory=dict)  # files in the zip at its end (metadata's labels)

    @property
    def quantized_input(self) -> bool:
        return self.input.dtype in ("uint8", "int8")


def open_model_file(data: bytes, origin: str, runtime: Runtime) -> ModelFile:
    """Read ``data`` (a ``.tflite``) with the runtime: one image input, one output of class scores; else one line."""
    problem = structure_problem(data)
    if problem:
        raise ModelImportError(f"{origin}: not a TFLite model ({problem})")
    try:
        interpreter = runtime.interpreter_class(model_content=data)
    except (ValueError, RuntimeError, SystemError) as exc:
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ModelImportError(f"{origin}: not a model {runtime.name} {runtime.version} can open ({text})") from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelImportError(f"{origin}: {len(inputs)} inputs and {len(outputs)} outputs; an image classifier has "
                               "one of each (a detector or a multi-head model is not one)")
    height, width, channels = _image_geometry(origin, inputs[0])
    outputs_count = _outputs(origin, outputs[0])
    metadata = read_metadata(data)
    attached = zip_members(data, f"{origin}'s attached files") if metadata and metadata.labels_file else {}
    activation = final_activation(interpreter, outputs[0]["index"])
    return ModelFile(data, origin, _spec(inputs[0]), _spec(outputs[0]), height, width, channels, outputs_count,
                     ACTIVATIONS.get(activation, "none"), metadata, attached)


def _spec(detail: dict[str, Any]) -> TensorSpec:
    """The tensor as the manifest records it: shape without the batch, dtype, quantization."""
    shape = tuple(int(v) for v in detail["shape"][1:])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(shape, np.dtype(detail["dtype"]).name, Quantization(float(scale), int(zero_point)))


def _image_geometry(origin: str, detail: dict[str, Any]) -> tuple[int, int, int]:
    """(height, width, channels) of an image input: [1, H, W, C] with C 1 or 3, [1, H, W] (gray) or [1, N] of a
    square image flattened (784: 28x28 gray, as a Dense MNIST model takes it)."""
    shape = [int(v) for v in detail["shape"]]
    dtype = np.dtype(detail["dtype"]).name
    geometry: Optional[tuple[int, int, int]] = None
    if len(shape) == 4 and shape[0] == 1 and shape[3] in (1, 3):
        geometry = (shape[1], shape[2], shape[3])
    elif len(shape) == 3 and shape[0] == 1:
        geometry = (shape[1], shape[2], 1)
    elif len(shape) == 2 and shape[0] == 1:
        for channels in (1, 3):
            side = math.isqrt(shape[1] // channels)
            if side * side * channels == shape[1] and geometry is None:
                geometry = (side, side, channels)
    if geometry is None or not all(MIN_SIDE <= side <= MAX_SIDE for side in geometry[:2]):
        raise ModelImportError(f"{origin}: its input {shape} is not an image (expected [1, height, width, 3 or 1], "
                               f"[1, height, width] or a square image flattened, sides {MIN_SIDE} to {MAX_SIDE}); a "
                               "table model is imported with --min-max")
    if dtype not in INPUT_DTYPES:
        raise ModelImportError(f"{origin}: its input is {dtype}; piclassify feeds {', '.join(INPUT_DTYPES)}")
    return geometry


def _outputs(origin: str, detail: dict[str, Any]) -> int:
    shape = [int(v) for v in detail["shape"]]
    if len(shape) != 2 or shape[0] != 1:
        raise ModelImportError(f"{origin}: its output {shape} is not one score per class ([1, classes])")
    if np.dtype(detail["dtype"]).name not in ("float32", "uint8", "int8"):
        raise ModelImportError(f"{origin}: its output is {np.dtype(detail['dtype']).name}, not class scores")
    return shape[-1]
