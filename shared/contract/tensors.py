"""Model tensors in and predictions out, driven by the manifest.

``InputEncoder`` turns a prepared uint8 image (already framed to the model's height, width and
channels) into the batch of one the interpreter wants; ``decode_output`` turns the raw output
back into a ``Prediction``. The trainer evaluates its exported model through these too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.reject import Reject
from piclassify.shared.contract.scaling import dequantize, input_lut, quantize, scale_pixels
from piclassify.shared.errors import ImageError


@dataclass(frozen=True)
class Prediction:
    """What the model said: the winning label, its index and score, and every class's probability."""

    label: str
    index: int
    score: float
    probabilities: np.ndarray
    labels: tuple[str, ...]

    def top(self, k: int = 3) -> tuple[tuple[str, float], ...]:
        """The ``k`` most probable labels with their probabilities, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return tuple((self.labels[i], float(self.probabilities[i])) for i in order)


class InputEncoder:
    """Scale and quantize prepared uint8 images for one model (a lookup table when possible): channels in the
    model's order (BGR for a model that wants it), then the input's shape (flat for a Dense model)."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._image = (manifest.height, manifest.width, manifest.channels)
        self._shape = manifest.input.shape
        self._bgr = manifest.colour == "bgr"
        self._lut = input_lut(manifest.scaling, manifest.input.quantization, manifest.input.dtype)

    def encode_batch(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W[, C]) uint8 -> (N, *input shape) model input."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise ImageError(f"expected uint8 pixels, got {images.dtype}")
        if images.ndim == 3 and self._image[2] == 1:
            images = images[..., np.newaxis]
        if images.shape[1:] != self._image:
            raise ImageError(f"image shape {images.shape[1:]} does not match model input {self._image}")
        if self._bgr:
            images = images[..., ::-1]
        if self._lut is not None:
            encoded = self._lut[images]
        else:
            spec = self._manifest.input
            encoded = quantize(scale_pixels(images, self._manifest.scaling), spec.quantization, spec.dtype)
        return encoded.reshape((len(images), *self._shape))

    def encode(self, image: np.ndarray) -> np.ndarray:
        """One (H, W[, C]) uint8 image -> a batch of one."""
        return self.encode_batch(np.asarray(image)[np.newaxis])


def encode_features(rows: np.ndarray, manifest: Manifest) -> np.ndarray:
    """(N, features) real values -> a table model's input: min-max scale, then quantize (int8 models)."""
    spec = manifest.input
    return quantize(scale_pixels(np.asarray(rows, dtype=np.float64), manifest.scaling), spec.quantization, spec.dtype)


def output_values(raw: np.ndarray, manifest: Manifest) -> np.ndarray:
    """A regression model's raw output rows (N, 1) -> (N,) values in the target's unit."""
    return dequantize(np.asarray(raw).reshape(len(raw), -1), manifest.output.quantization)[:, 0]


def output_probabilities(raw: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Raw output rows (N, outputs) -> class probabilities (N, labels): dequantize, then softmax or sigmoid."""
    logits = dequantize(np.asarray(raw).reshape(len(raw), -1), manifest.output.quantization).astype(np.float64)
    if manifest.outputs_probabilities:  # already sigmoid/softmax
        return np.concatenate([1.0 - logits, logits], axis=1) if manifest.task == "binary" else logits
    if manifest.task == "binary":
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def predicted_indices(probabilities: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Winning class per row; a binary model says 'positive' from its manifest threshold; a model with a
    background class names it only above ``reject.background_threshold``, else the likeliest other class."""
    if manifest.task == "binary":
        return (probabilities[:, 1] >= manifest.threshold).astype(np.int64)
    background = manifest.reject.background_label
    if background is None:
        return probabilities.argmax(axis=1)
    index = manifest.labels.index(background)
    others = probabilities.copy()
    others[:, index] = -1.0
    return np.where(probabilities[:, index] > manifest.reject.background_threshold, index, others.argmax(axis=1))


def rejection(prediction: Prediction, reject: Reject) -> Optional[str]:
    """Why the model's own answer means "nothing in view": its background class won, or no class is likely enough."""
    if reject.background_label is not None and prediction.label == reject.background_label:
        return "the model sees only background"
    if prediction.score < reject.min_score:
        return f"no label is likely enough ({prediction.label} {prediction.score:.2f} < {reject.min_score:.2f})"
    return None


def decode_output(raw: np.ndarray, manifest: Manifest) -> Prediction:
    """The output of a batch of one -> Prediction."""
    return decode_probabilities(output_probabilities(np.asarray(raw)[:1], manifest)[0], manifest)


def decode_probabilities(probabilities: np.ndarray, manifest: Manifest) -> Prediction:
    """One image's class probabilities -> Prediction."""
    index = int(predicted_indices(probabilities[np.newaxis], manifest)[0])
    return Prediction(manifest.labels[index], index, float(probabilities[index]), probabilities,
                      tuple(manifest.labels))
