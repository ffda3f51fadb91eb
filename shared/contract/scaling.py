"""Pixel scaling and affine quantization, the two steps between a uint8 image and a model input.

The trainer scales its training data with ``scale_pixels``; the device turns the same uint8
image into the model's input with ``input_lut``/``to_input_tensor``. Same function, same numbers.
"""

from __future__ import annotations

import numpy as np

from piclassify.shared.contract.manifest import Quantization, Scaling

_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def scale_pixels(pixels: np.ndarray, scaling: Scaling) -> np.ndarray:
    """uint8 pixels (any shape, features last) -> float32 values the model was trained on."""
    x = np.asarray(pixels, dtype=np.float32)
    if scaling.mode == "unit":
        return x / np.float32(255.0)
    if scaling.mode == "symmetric":
        return x / np.float32(127.5) - np.float32(1.0)
    if scaling.mode == "centred":
        return (x - np.float32(127.0)) / np.float32(128.0)
    if scaling.mode == "meanstd":
        return (x - np.asarray(scaling.mean, dtype=np.float32)) / np.asarray(scaling.std, dtype=np.float32)
    if scaling.mode == "minmax":
        lo = np.asarray(scaling.minimum, dtype=np.float32)
        span = np.asarray(scaling.maximum, dtype=np.float32) - lo
        span = np.where(span == 0, np.float32(1.0), span)
        return (x - lo) / span
    raise ValueError(f"unknown scaling mode {scaling.mode!r}")


def quantize(values: np.ndarray, quant: Quantization, dtype: str) -> np.ndarray:
    """Real values -> integer tensor values: ``round(x / scale) + zero_point``, clipped to the dtype."""
    if dtype not in _INT_RANGES:
        return np.asarray(values, dtype=dtype)
    lo, hi = _INT_RANGES[dtype]
    q = np.rint(np.asarray(values, dtype=np.float32) / np.float32(quant.scale)) + quant.zero_point
    return np.clip(q, lo, hi).astype(dtype)


def dequantize(values: np.ndarray, quant: Quantization) -> np.ndarray:
    """Integer tensor values -> real values; float values (a float model, Keras) pass through."""
    values = np.asarray(values)
    x = values.astype(np.float32)
    if not quant.is_quantized or np.issubdtype(values.dtype, np.floating):
        return x
    return (x - np.float32(quant.zero_point)) * np.float32(quant.scale)


def input_lut(scaling: Scaling, quant: Quantization, dtype: str) -> np.ndarray | None:
    """The whole uint8 -> input mapping as a 256-entry table, or None when it is per-feature.

    Scaling then quantizing a uint8 pixel depends on its value alone (for ``unit``, ``symmetric``,
    ``centred``, and ``meanstd`` with one mean and std), so one table lookup replaces both steps on the hot path.
    """
    if scaling.mode == "minmax" or (scaling.mode == "meanstd" and max(len(scaling.mean), len(scaling.std)) > 1):
        return None
    levels = scale_pixels(np.arange(256, dtype=np.uint8), scaling)
    return quantize(levels, quant, dtype)
