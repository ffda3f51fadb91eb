"""A look at a .tflite's flatbuffer before the runtime builds it, for the one crash we know of.

TFLite's interpreter builder (LiteRT 2.3 here) trusts a model's signature list: a signature naming
a subgraph the model does not have makes it read through a null pointer, and the whole process dies
of SIGSEGV with no Python exception to catch (tflite-runtime 2.14 too). One byte is enough: zeroing
the root table's vtable slot for ``subgraphs`` hides them all (tests/hardening/test_hardening_models.py builds
that model). The manifest's sha256 already stops accidental corruption; this keeps a crafted or
mis-exported model from taking a running service down on reload. It reads four fields with the
``flatbuffers`` package (a device dependency: tflite-runtime does not bring it, as LiteRT does);
where it is missing all the same, the check is skipped.

Vtable slots are ``4 + 2 * field id`` from TFLite's schema.fbs: Model.subgraphs is field 2,
Model.signature_defs field 7, SignatureDef.subgraph_index field 4.
"""

from __future__ import annotations

from typing import Optional

_MODEL_SUBGRAPHS = 8
_MODEL_SIGNATURE_DEFS = 18
_SIGNATURE_SUBGRAPH_INDEX = 12


def structure_problem(data: bytes) -> Optional[str]:
    """Why ``data`` must not reach the runtime, or None when its subgraphs and signatures agree."""
    try:
        from flatbuffers import encode, number_types, packer
        from flatbuffers.table import Table
    except ImportError:
        return None
    try:
        model = Table(data, encode.Get(packer.uoffset, data, 0))
        slot = model.Offset(_MODEL_SUBGRAPHS)
        subgraphs = model.VectorLen(slot) if slot else 0
        if subgraphs == 0:
            return "it has no subgraph"
        slot = model.Offset(_MODEL_SIGNATURE_DEFS)
        signatures = model.VectorLen(slot) if slot else 0
        if signatures > len(data) // 4:
            return f"it claims {signatures} signatures in {len(data)} bytes"
        for number in range(signatures):
            signature = Table(data, model.Indirect(model.Vector(slot) + 4 * number))
            field = signature.Offset(_SIGNATURE_SUBGRAPH_INDEX)
            index = signature.Get(number_types.Uint32Flags, signature.Pos + field) if field else 0
            if index >= subgraphs:
                return f"signature {number} names subgraph {index} of {subgraphs}"
    except Exception as exc:  # any offset out of range (struct.error, IndexError): not for the runtime either
        kind = type(exc)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        return f"not a readable flatbuffer ({name})"
    return None
