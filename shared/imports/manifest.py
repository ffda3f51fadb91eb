"""The manifest of an imported model: what its file says, read as ``reading`` says, no gate yet."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Optional

from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.reject import Reject
from piclassify.shared.imports.model_file import ModelFile
from piclassify.shared.imports.readings import Reading, apply_reading


def imported_manifest(model: ModelFile, name: str, labels: tuple[str, ...], task: str, reading: Reading,
                      background: Optional[str], versions: Mapping[str, str],
                      training: Mapping[str, Any]) -> Manifest:
    """``NAME.tflite``'s manifest: the file's tensors and activation, the labels, ``reading``, and a label that
    means "nothing in view" (``background``, answered when it wins)."""
    manifest = Manifest(
        name=name, task=task, labels=labels, height=model.height, width=model.width, channels=model.channels,
        colour=reading.colour, polarity=reading.polarity, scaling=reading.scaling, resize=reading.resize,
        input=model.input, output=model.output, model_file=f"{name}.tflite",
        sha256=hashlib.sha256(model.data).hexdigest(), versions=dict(versions),
        training={"imported_from": model.origin, **training}, reject=Reject(background_label=background),
        resample=reading.resample, activation_in_model=model.activation != "none")
    return apply_reading(manifest, reading)
