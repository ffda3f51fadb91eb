"""Where an image model comes from: a ``.tflite`` with its labels, or a Teachable Machine download.

Teachable Machine's "TensorFlow Lite" download is a zip (``converted_tflite.zip``: ``model_unquant.tflite`` and
``labels.txt``; the quantized one: ``model.tflite``), or the folder it unpacks to. Its other downloads are
named for what they are: the Keras one (``keras_model.h5``) is converted on a workstation, the TensorFlow.js
one cannot run here, the Edge TPU one needs a Coral. An Edge Impulse ``.eim`` is a program, not a model, and
piclassify runs no downloaded program. Every file is read with a bound, and nothing is extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from piclassify.shared.errors import ModelImportError
from piclassify.shared.files.regular_file import read_limited
from piclassify.shared.files.zip_members import MAX_MEMBERS, zip_members
from piclassify.shared.imports.labels import MAX_LABELS_BYTES, is_numbered, parse_labels_file, parse_labels_text
from piclassify.shared.inference.interpreter import MAX_MODEL_BYTES

TM_FLOAT, TM_QUANTIZED, TM_EDGE_TPU = "model_unquant.tflite", "model.tflite", "model_edgetpu.tflite"
LABELS_FILE = "labels.txt"
_ELF = b"\x7fELF"


@dataclass(frozen=True)
class ModelSource:
    """A model file's bytes, where they came from, and the labels file that came with them (if any)."""

    data: bytes
    origin: str
    labels_file: Optional[bytes] = None
    labels_origin: str = ""
    teachable_machine: bool = False


def refuse_programs(path: Path, data: bytes = b"") -> None:
    """An Edge Impulse ``.eim`` (or any executable) is refused in one line, before anything reads it as a model."""
    if path.suffix.lower() == ".eim" or data.startswith(_ELF):
        raise ModelImportError(f"{path}: an Edge Impulse .eim is a program, not a model, and piclassify runs no "
                               "downloaded program; export the model as TensorFlow Lite (float32 or int8) from "
                               "Edge Impulse's Dashboard and import that with --tflite")


def from_tflite(path: Path) -> ModelSource:
    """``--tflite FILE``; a ``labels.txt`` beside it comes along (Teachable Machine's zip, unpacked)."""
    path = Path(path)
    refuse_programs(path)
    data = read_limited(path, MAX_MODEL_BYTES, "a model")
    refuse_programs(path, data)
    beside = path.with_name(LABELS_FILE)
    labels = read_limited(beside, MAX_LABELS_BYTES, "a labels file") if beside.is_file() else None
    return ModelSource(data, str(path), labels, str(beside) if labels is not None else "")


def from_download(path: Path) -> ModelSource:
    """``--from PATH``: Teachable Machine's zip, or the folder it unpacks to."""
    path = Path(path)
    refuse_programs(path)
    if path.is_dir():
        files = {p.name: p for p in sorted(path.iterdir())[:MAX_MEMBERS * 4] if p.is_file()}
        members = {name: read_limited(file, MAX_MODEL_BYTES, "a model's file") for name, file in files.items()
                   if name.endswith(".tflite") or name == LABELS_FILE}
        names = set(files)
    else:
        data = read_limited(path, 2 * MAX_MODEL_BYTES, "a Teachable Machine download")
        refuse_programs(path, data)
        by_path = zip_members(data, str(path))
        members = {Path(name).name: content for name, content in by_path.items()}
        names = set(members)
    model_name = _model_name(path, names)
    if LABELS_FILE not in members:
        raise ModelImportError(f"{path}: no {LABELS_FILE} beside {model_name}; give --labels")
    origin = f"{path}/{model_name}" if path.is_dir() else f"{path}:{model_name}"
    return ModelSource(members[model_name], origin, members[LABELS_FILE], f"{path}: {LABELS_FILE}", True)


def _model_name(path: Path, names: set[str]) -> str:
    """The float model if it is there, else the quantized one; each other download named for what it is."""
    for name in (TM_FLOAT, TM_QUANTIZED):
        if name in names:
            return name
    if TM_EDGE_TPU in names:
        raise ModelImportError(f"{path}: an Edge TPU model runs only on a Coral accelerator; download Teachable "
                               "Machine's TensorFlow Lite model as Floating point or Quantized")
    if any(name.endswith((".h5", ".keras")) for name in names) or "saved_model.pb" in names:
        raise ModelImportError(f"{path}: a Keras model; convert it on a workstation with `piclassify-train import "
                               "keras_model.h5 --labels labels.txt`, or download Teachable Machine's TensorFlow Lite "
                               "model instead")
    if "model.json" in names or "weights.bin" in names:
        raise ModelImportError(f"{path}: a TensorFlow.js model, which cannot run here; download Teachable Machine's "
                               "TensorFlow Lite model instead")
    others = sorted(name for name in names if name.endswith(".tflite"))
    if len(others) == 1:
        return others[0]
    raise ModelImportError(f"{path}: no {TM_FLOAT} or {TM_QUANTIZED} in it (a Teachable Machine TensorFlow Lite "
                           "download holds one)" + (f"; it holds {', '.join(others[:4])}: pick one with --tflite"
                                                    if others else ""))


def read_labels(option: Optional[str], source: ModelSource) -> Optional[tuple[tuple[str, ...], bool]]:
    """The labels (and whether they are numbered as Teachable Machine numbers them): ``--labels`` (a file, a
    comma list or Keras' class_indices) wins over the file that came with the model; None when there are none."""
    if option is not None and Path(option).is_file():
        data = read_limited(Path(option), MAX_LABELS_BYTES, "a labels file")
        return parse_labels_file(data, option), is_numbered(data)
    if option is not None:
        return parse_labels_text(option), False
    if source.labels_file is not None:
        return parse_labels_file(source.labels_file, source.labels_origin), is_numbered(source.labels_file)
    return None
