"""What a model's TFLite metadata says about feeding it: the normalization, the colour space, the labels file.

Model Maker and MediaPipe write it (``tflite_support``'s metadata writers): a flatbuffer (schema
``metadata_schema.fbs``, identifier ``M001``) in the model buffer that the model's ``metadata`` entry
``TFLITE_METADATA`` names, and the files it mentions (``labels.txt``) in a zip appended to the model.
Read here with the ``flatbuffers`` package alone, field by field (no tflite-support on the Pi); field
ids are the schemas': a table's field ``n`` is at vtable slot ``4 + 2 * n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from piclassify.shared.errors import PiclassifyError

METADATA_NAME = "TFLITE_METADATA"
TENSOR_AXIS_LABELS = 2  # AssociatedFileType
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions
IMAGE_PROPERTIES = 2  # ContentProperties
COLOR_SPACES = {1: "rgb", 2: "gray"}  # ColorSpaceType; 0 is UNKNOWN
MAX_ITEMS = 64  # of any list read here: a classifier has one subgraph, one input, a few process units


class MetadataError(PiclassifyError):
    """A model's metadata is there but cannot be read."""


@dataclass(frozen=True)
class ModelMetadata:
    """The parts of a model's metadata that say how to feed it and name its outputs."""

    name: str = ""
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    colour: Optional[str] = None  # "rgb", "gray", or None where the metadata does not say
    labels_file: Optional[str] = None


def _slot(field: int) -> int:
    return 4 + 2 * field


class _Reader:
    """One flatbuffer table and the few ways this module reads its fields."""

    def __init__(self, data: bytes, position: int) -> None:
        from flatbuffers.table import Table

        self.table = Table(data, position)

    @classmethod
    def root(cls, data: bytes) -> "_Reader":
        from flatbuffers import encode, packer

        return cls(data, encode.Get(packer.uoffset, data, 0))

    def _offset(self, field: int) -> int:
        return int(self.table.Offset(_slot(field)))

    def scalar(self, field: int, flags: Any, default: int = 0) -> Any:
        offset = self._offset(field)
        return self.table.Get(flags, self.table.Pos + offset) if offset else default

    def string(self, field: int) -> str:
        offset = self._offset(field)
        return self.table.String(self.table.Pos + offset).decode("utf-8", "replace") if offset else ""

    def tables(self, field: int) -> list["_Reader"]:
        """The first ``MAX_ITEMS`` tables of a vector of tables."""
        return [item for n in range(min(self.length(field), MAX_ITEMS)) if (item := self.item(field, n)) is not None]

    def length(self, field: int) -> int:
        offset = self._offset(field)
        return int(self.table.VectorLen(offset)) if offset else 0

    def item(self, field: int, n: int) -> Optional["_Reader"]:
        """The ``n``-th table of a vector of tables, or None past its end."""
        if not 0 <= n < self.length(field):
            return None
        start = self.table.Vector(self._offset(field))
        return _Reader(self.table.Bytes, self.table.Indirect(start + 4 * n))

    def child(self, field: int) -> Optional["_Reader"]:
        offset = self._offset(field)
        return _Reader(self.table.Bytes, self.table.Indirect(self.table.Pos + offset)) if offset else None

    def floats(self, field: int) -> tuple[float, ...]:
        from flatbuffers import number_types

        offset = self._offset(field)
        if not offset:
            return ()
        start = self.table.Vector(offset)
        count = min(self.table.VectorLen(offset), MAX_ITEMS)
        return tuple(float(self.table.Get(number_types.Float32Flags, start + 4 * n)) for n in range(count))

    def bytes_of(self, field: int) -> bytes:
        offset = self._offset(field)
        if not offset:
            return b""
        start = self.table.Vector(offset)
        return bytes(self.table.Bytes[start:start + self.table.VectorLen(offset)])


def metadata_buffer(model: bytes) -> Optional[bytes]:
    """The bytes of the model's ``TFLITE_METADATA`` buffer, or None when it has none (schema.fbs: Model.buffers is
    field 4, Model.metadata field 6; Metadata.name 0, .buffer 1; Buffer.data 0, .offset 1, .size 2)."""
    from flatbuffers import number_types

    def read() -> Optional[bytes]:
        root = _Reader.root(model)
        entry = next((m for m in root.tables(6) if m.string(0) == METADATA_NAME), None)
        if entry is None:
            return None
        buffer = root.item(4, entry.scalar(1, number_types.Uint32Flags))
        if buffer is None:
            raise IndexError("the metadata names a buffer the model does not have")
        data = buffer.bytes_of(0)
        offset, size = buffer.scalar(1, number_types.Uint64Flags), buffer.scalar(2, number_types.Uint64Flags)
        return data if data or not size else bytes(model[offset:offset + size])

    return _guarded(read, "the model's list of metadata")


def read_metadata(model: bytes) -> Optional[ModelMetadata]:
    """The model's metadata (ModelMetadata in metadata_schema.fbs), or None when it has none."""
    buffer = metadata_buffer(model)
    if buffer is None:
        return None
    return _guarded(lambda: _parse(buffer), "its TFLite metadata")


def _parse(buffer: bytes) -> ModelMetadata:
    from flatbuffers import number_types

    root = _Reader.root(buffer)
    subgraphs = root.tables(3)  # ModelMetadata.subgraph_metadata
    if not subgraphs:
        return ModelMetadata(root.string(0))
    subgraph = subgraphs[0]
    inputs, outputs = subgraph.tables(2), subgraph.tables(3)  # input_tensor_metadata, output_tensor_metadata
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    colour = None
    if inputs:
        for unit in inputs[0].tables(4):  # TensorMetadata.process_units; ProcessUnit: options_type 0, options 1
            if unit.scalar(0, number_types.Uint8Flags) == NORMALIZATION_OPTIONS and unit.child(1) is not None:
                options = unit.child(1)
                assert options is not None
                mean, std = options.floats(0), options.floats(1)
        content = inputs[0].child(3)  # TensorMetadata.content; Content: content_properties_type 0, .._properties 1
        if content is not None and content.scalar(0, number_types.Uint8Flags) == IMAGE_PROPERTIES:
            properties = content.child(1)
            colour = COLOR_SPACES.get(properties.scalar(0, number_types.Int8Flags)) if properties else None
    files = [*(outputs[0].tables(6) if outputs else []), *subgraph.tables(4), *root.tables(6)]
    labels = next((f.string(0) for f in files if f.scalar(2, number_types.Int8Flags) == TENSOR_AXIS_LABELS), None)
    return ModelMetadata(root.string(0), mean, std, colour, labels or None)


def _guarded(read: Callable[[], Any], what: str) -> Any:
    try:
        return read()
    except MetadataError:
        raise
    except Exception as exc:  # any offset out of range (struct.error, IndexError, ...): a broken or crafted file
        raise MetadataError(f"{what} is not readable ({type(exc).__name__})") from None
