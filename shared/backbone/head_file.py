"""Reading a head's ``.npz`` file (``head.head_bytes`` writes it) as the untrusted input it is.

A ``.npz`` is a zip of ``.npy`` members, and ``np.load`` inflates a member whole when it is asked for
it: a 2 MB head whose members claim gigabytes took 2.2 GB before any check. So a head is read here
member by member, and only the members a head has: each one's size as its zip entry declares it,
then its ``.npy`` header (dtype and shape), are checked against what the manifest's shapes allow
before a byte of it is inflated, and the whole is capped (``MAX_INFLATED``). No pickle is ever
loaded. The weights must be finite, and so must every logit they can make from any features the
backbone can output: a model whose outputs are not finite numbers is refused here, at load.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.backbone.head import MAX_BANK, HeadArrays, dequantize_bank
from piclassify.shared.contract.manifest import Manifest, TensorSpec
from piclassify.shared.errors import ManifestError

MAX_INFLATED = 64 << 20  # bytes all of a head's members may inflate to: a 4,000-photo bank is 4 MB
NPY_HEADER = 4096  # bytes a member's .npy header may take beside its data (np.savez writes 128)
MAX_LOGIT = 1e30  # a logit's largest possible size: well inside float32 (3.4e38), whatever the summing order
FLOAT_FEATURES = 1e4  # the features' largest size when the backbone's are not quantized (EfficientNet-Lite's: 6)


def bank_of(data: bytes) -> np.ndarray:
    """The bank of a head file's bytes (one this process made), as the device uses it (float32 rows of norm 1)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return dequantize_bank(arrays["bank"])


def feature_bound(features: TensorSpec) -> float:
    """The largest size a feature can have, from the backbone's output quantization (int8 or uint8)."""
    quantization = features.quantization
    if not quantization.is_quantized:
        return FLOAT_FEATURES
    low, high = (-128, 127) if features.dtype == "int8" else (0, 255)
    return max(abs(low - quantization.zero_point), abs(high - quantization.zero_point)) * quantization.scale


def load_head(path: Path, features: int, logits: int, classes: Optional[int], imagenet_classes: bool = False,
              largest_feature: float = FLOAT_FEATURES) -> HeadArrays:
    """Read and check a head file: the bank's width is the backbone's logits, the layer maps features to classes
    and cannot make a logit that is not a finite number from features up to ``largest_feature`` in size, and
    ``imagenet_classes`` (when the manifest's rule asks for them) are distinct classes of the backbone's."""
    limits = {"bank": MAX_BANK * logits, "imagenet_classes": logits * 8, "sure_classes": logits * 8}
    if classes is not None:
        limits.update(weights=features * classes * 8, bias=classes * 8)
    arrays = _read_members(path, {name: size + NPY_HEADER for name, size in limits.items()})
    bank = arrays.get("bank")
    if bank is None or bank.dtype != np.int8 or bank.ndim != 2 or bank.shape[1] != logits or len(bank) < 1:
        raise ManifestError(f"{path}: 'bank' must be int8 rows of the backbone's {logits} logits")
    if len(bank) > MAX_BANK:
        raise ManifestError(f"{path}: a bank of {len(bank)} photos is more than {MAX_BANK}")
    known = sure = None
    if imagenet_classes:
        known = _imagenet_classes(path, arrays.get("imagenet_classes"), logits, "imagenet_classes")
        if "sure_classes" in arrays:
            sure = _imagenet_classes(path, arrays["sure_classes"], logits, "sure_classes")
    if classes is None:
        return HeadArrays(dequantize_bank(bank), imagenet_classes=known, sure_classes=sure)
    weights, bias = _linear_layer(path, arrays.get("weights"), arrays.get("bias"), features, classes)
    largest = np.abs(weights.astype(np.float64)).sum(axis=0) * largest_feature + np.abs(bias.astype(np.float64))
    if not np.all(largest < MAX_LOGIT):
        raise ManifestError(f"{path}: the head's weights can make logits of {float(np.max(largest)):.3g}, beyond "
                            "what float32 holds: its outputs would not be finite numbers")
    return HeadArrays(dequantize_bank(bank), weights, bias, known, sure)


def load_manifest_head(path: Path, manifest: Manifest) -> HeadArrays:
    """The head file at ``path``, checked against ``manifest``: the backbone's outputs, the labels, the gate's rule
    and the neighbours it compares a frame with."""
    backbone, section = manifest.backbone_sections()
    reject = manifest.reject
    head = load_head(path, backbone.features.shape[-1], backbone.logits.shape[-1],
                     len(manifest.labels) if section.classifies else None,
                     imagenet_classes=reject.min_class_mass > 0 or reject.sure_class_mass is not None,
                     largest_feature=feature_bound(backbone.features))
    if section.neighbours > len(head.bank):
        raise ManifestError(f"{path}: head.neighbours is {section.neighbours}, but the head holds {len(head.bank)} "
                            "photos")
    return head


def _read_members(path: Path, limits: dict[str, int]) -> dict[str, np.ndarray]:
    """The members named in ``limits`` (``NAME.npy``), each checked before it is inflated: its declared size at most
    its limit, its header's dtype plain numbers, its data as long as its shape says; other members are never read."""
    try:
        if path.stat().st_size > sum(limits.values()) + NPY_HEADER * len(limits):
            raise ManifestError(f"{path}: {path.stat().st_size:,} bytes, more than a head of these shapes takes")
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: info for info in archive.infolist()}
            wanted = {name: entries[f"{name}.npy"] for name in limits if f"{name}.npy" in entries}
            declared = sum(info.file_size for info in wanted.values())
            for name, info in wanted.items():
                if info.file_size > limits[name] or declared > MAX_INFLATED:
                    raise ManifestError(f"{path}: '{name}' would inflate to {info.file_size:,} bytes, more than the "
                                        f"{min(limits[name], MAX_INFLATED):,} the manifest's shapes allow")
            return {name: _array(path, name, archive.read(info)) for name, info in wanted.items()}
    except ManifestError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile and zlib raise many types on a damaged or hostile file
        text = " ".join(str(exc).split())[:120]
        raise ManifestError(f"{path}: not a readable head file ({type(exc).__name__}{': ' + text if text else ''})") \
            from None


def _array(path: Path, name: str, data: bytes) -> np.ndarray:
    """One ``.npy`` member's array: plain numbers only, exactly as many bytes as its header's shape says."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = reader(stream)
    if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize > 8:
        raise ManifestError(f"{path}: '{name}' holds {dtype}, not plain numbers")
    if len(data) - stream.tell() != math.prod(shape) * dtype.itemsize:
        raise ManifestError(f"{path}: '{name}' is {len(data) - stream.tell():,} bytes, not the {shape} its header "
                            "says")
    array = np.frombuffer(data, dtype, math.prod(shape), stream.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def _linear_layer(path: Path, weights: Optional[np.ndarray], bias: Optional[np.ndarray], features: int,
                  classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The layer's weights and bias as float32, checked: their shapes, and every number finite."""
    if weights is None or bias is None or weights.shape != (features, classes) or bias.shape != (classes,) \
            or weights.dtype.kind != "f" or bias.dtype.kind != "f":
        raise ManifestError(f"{path}: a head that classifies needs float 'weights' ({features}, {classes}) and "
                            f"'bias' ({classes},)")
    with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf, and is refused as such just below
        weights, bias = weights.astype(np.float32), bias.astype(np.float32)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(bias))):
        raise ManifestError(f"{path}: the head's weights are not all finite numbers")
    return weights, bias


def _imagenet_classes(path: Path, indices: Optional[np.ndarray], logits: int, name: str) -> np.ndarray:
    """The head's ImageNet classes (``name``: the gate's or the sure path's), checked: whole numbers, each a class
    of the backbone's, each once."""
    if (indices is None or indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) or len(indices) == 0
            or len(np.unique(indices)) != len(indices) or indices.min() < 0 or indices.max() >= logits):
        raise ManifestError(f"{path}: the manifest's rule needs '{name}', distinct indices of the "
                            f"backbone's {logits} ImageNet classes")
    return np.sort(indices.astype(np.int64))
