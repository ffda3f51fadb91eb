"""Does a model file's interpreter agree with its manifest? Shapes, dtypes and quantization, tensor by tensor.

Takes the interpreter's own ``get_input_details()``/``get_output_details()`` so that this module stays free of
any runtime: LiteRT, tflite-runtime and tf.lite all report the same dicts.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from piclassify.shared.contract.manifest import Manifest, TensorSpec
from piclassify.shared.errors import ManifestError


def check_tensor_details(manifest: Manifest, input_details: Sequence[Mapping[str, Any]],
                         output_details: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a manifest whose input/output shape, dtype or quantization differs from the model.

    Takes the interpreter's own ``get_input_details()``/``get_output_details()`` so that this
    module stays free of any runtime: LiteRT, tflite-runtime and tf.lite all report the same dicts.
    """
    for role, spec, details in (("input", manifest.input, input_details), ("output", manifest.output, output_details)):
        if len(details) != 1:
            raise ManifestError(f"{manifest.name}: model has {len(details)} {role} tensors, expected 1")
        problem = tensor_problem(role, spec, details[0])
        if problem:
            raise ManifestError(f"{manifest.name}: {problem}")


def tensor_problem(role: str, spec: TensorSpec, detail: Mapping[str, Any]) -> Optional[str]:
    """How one of the interpreter's tensor details differs from ``spec`` (shape without batch, dtype,
    quantization), or None when it matches."""
    shape = tuple(int(v) for v in detail["shape"][1:])
    dtype = np.dtype(detail["dtype"]).name
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if shape != spec.shape:
        return f"model {role} shape {shape} does not match manifest {spec.shape}"
    if dtype != spec.dtype:
        return f"model {role} dtype {dtype} does not match manifest {spec.dtype}"
    if not _close(scale, spec.quantization.scale) or int(zero_point) != spec.quantization.zero_point:
        return (f"model {role} quantization ({scale}, {zero_point}) does not match manifest "
                f"({spec.quantization.scale}, {spec.quantization.zero_point})")
    return None


def _close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)), abs(float(b)))
