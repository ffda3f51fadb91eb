"""Models that ship inside the package (``device/models``), found by name or by path.

A model is its file (a ``.tflite``, or the ``.npz`` head of a photo model on the backbone) with its
manifest ``.json`` beside it; a path may name either. The backbone itself is not a model to pick.
"""

from __future__ import annotations

from pathlib import Path

from piclassify.device.errors import UnknownModelError
from piclassify.shared.manifest import manifest_path_for

MODELS_DIR = Path(__file__).resolve().parent / "models"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


MODEL_SUFFIXES = (".tflite", ".npz")


def model_paths(folder: Path) -> list[Path]:
    """The models in ``folder``: each ``.tflite`` or ``.npz`` with a manifest beside it."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix in MODEL_SUFFIXES and p.is_file() and manifest_path_for(p).is_file())


def bundled_model_paths() -> list[Path]:
    return model_paths(MODELS_DIR)


def resolve_model(name_or_path: str) -> Path:
    """``digits`` -> the bundled digits.tflite; a path to a model file (or to its ``.json``) is taken as given."""
    if "/" not in name_or_path and Path(name_or_path).suffix not in (*MODEL_SUFFIXES, ".json"):
        for suffix in MODEL_SUFFIXES:
            candidate = MODELS_DIR / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate
    path = Path(name_or_path)
    if path.suffix == ".json":
        path = next((path.with_suffix(s) for s in MODEL_SUFFIXES if path.with_suffix(s).is_file()), path)
    if path.is_file():
        return path
    names = ", ".join(p.stem for p in bundled_model_paths()) or "none"
    raise UnknownModelError(f"{name_or_path}: no such model file or bundled model (bundled: {names})")
