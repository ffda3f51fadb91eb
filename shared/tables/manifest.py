"""A tabular model's manifest, read off the model's own tensors.

The trainer's ``table`` export and the device's ``import`` of a workshop model both describe a
``.tflite`` that takes one row of min-max scaled features; building the manifest in one place keeps
the two identical: the row is stored as a 1 x n x 1 "image" with a ``table`` section beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import Manifest, Quantization, Scaling, Table, TensorSpec


def tensor_spec(detail: Mapping[str, Any]) -> TensorSpec:
    """One entry of an interpreter's ``get_input_details()``/``get_output_details()`` as a manifest spec."""
    scale, zero_point = detail["quantization"]
    return TensorSpec(tuple(int(v) for v in detail["shape"][1:]), np.dtype(detail["dtype"]).name,
                      Quantization(float(scale), int(zero_point)))


def table_manifest(model_path: Path, input_details: Sequence[Mapping[str, Any]],
                   output_details: Sequence[Mapping[str, Any]], *, name: str, task: str, labels: Sequence[str],
                   table: Table, scaling: Scaling, versions: Mapping[str, str], training: Mapping[str, Any],
                   threshold: float = 0.5) -> Manifest:
    """The manifest for ``model_path`` (already written); raises ``ManifestError`` if the parts disagree."""
    input_spec = tensor_spec(input_details[0])
    return Manifest(
        name=name, task=task, labels=tuple(labels), height=1, width=len(table.features), channels=1,
        colour="gray", polarity="any", scaling=scaling, resize="squash", input=input_spec,
        output=tensor_spec(output_details[0]), model_file=Path(model_path).name, sha256=sha256_of(model_path),
        threshold=threshold, versions=dict(versions), training=dict(training), table=table,
    )
