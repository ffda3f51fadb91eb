"""Models that ship inside the package (``device/models``), found by name or by path."""

from __future__ import annotations

from pathlib import Path

from piclassify.device.errors import UnknownModelError

MODELS_DIR = Path(__file__).resolve().parent / "models"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def bundled_model_paths() -> list[Path]:
    return sorted(MODELS_DIR.glob("*.tflite"))


def resolve_model(name_or_path: str) -> Path:
    """``digits`` -> the bundled digits.tflite; a path to a ``.tflite`` file is taken as given."""
    candidate = MODELS_DIR / f"{name_or_path}.tflite"
    if "/" not in name_or_path and not name_or_path.endswith(".tflite") and candidate.is_file():
        return candidate
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = ", ".join(p.stem for p in bundled_model_paths()) or "none"
    raise UnknownModelError(f"{name_or_path}: no such model file or bundled model (bundled: {names})")
