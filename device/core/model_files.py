"""Models found by name or by path: those that ship inside the package (``device/models``) and those
``piclassify teach`` wrote into the user's models folder.

A model is its file (a ``.tflite``, or the ``.npz`` head of a photo model on the backbone) with its
manifest ``.json`` beside it; a path may name either. The backbone itself is not a model to pick.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from piclassify.device.errors import ModelFolderError, ModelNameError, UnknownModelError
from piclassify.shared.contract.manifest import manifest_path_for
from piclassify.shared.errors import printable

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
DEFAULT_MODEL = "digits"  # what the service, demo, info and evaluate use when no model is named


MODEL_SUFFIXES = (".tflite", ".npz")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a file name on any system, a word in MQTT topics and URLs


def checked_model_name(name: str) -> str:
    """The name of a model about to be written (``teach``, ``import``): never a path, a hidden file or a control
    character, since it becomes ``NAME.json`` and travels into logs, topics and URLs."""
    if not MODEL_NAME.fullmatch(name):
        raise ModelNameError(f"{name[:64]!r}: a model name is 1-64 letters, digits, '-' or '_', starting with a "
                             "letter or digit")
    return name


def model_paths(folder: Path) -> list[Path]:
    """The models in ``folder``: each ``.tflite`` or ``.npz`` with a manifest beside it; ``ModelFolderError`` when
    the folder cannot be listed."""
    try:
        return sorted(p for p in Path(folder).iterdir()
                      if p.suffix in MODEL_SUFFIXES and p.is_file() and manifest_path_for(p).is_file())
    except OSError as exc:
        raise ModelFolderError(f"{printable(folder)}: cannot list the models there: {exc.strerror or exc}") from None


def bundled_model_paths() -> list[Path]:
    return model_paths(MODELS_DIR)


def taught_model_paths() -> list[Path]:
    """The models in ``user_models_dir()`` (none before the first is taught); ``ModelFolderError`` when it cannot be
    listed."""
    folder = user_models_dir()
    try:
        if not folder.is_dir():
            return []
    except OSError as exc:  # a folder above it that cannot be searched
        raise ModelFolderError(f"{printable(folder)}: cannot list the models there: {exc.strerror or exc}") from None
    return model_paths(folder)


def user_models_dir() -> Path:
    """Where ``piclassify teach`` writes by default: ``$PICLASSIFY_MODELS``, else ``$XDG_DATA_HOME/piclassify/models``
    (``~/.local/share/piclassify/models``)."""
    if os.environ.get("PICLASSIFY_MODELS"):
        return Path(os.environ["PICLASSIFY_MODELS"])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "piclassify" / "models"


def _named_in(folder: Path, name: str) -> Optional[Path]:
    for suffix in MODEL_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        try:
            if candidate.is_file() and manifest_path_for(candidate).is_file():
                return candidate
        except OSError as exc:  # a folder on the way that cannot be searched
            raise ModelFolderError(f"{printable(folder)}: cannot look for model {printable(name, 64)} there: "
                                   f"{exc.strerror or exc}") from None
    return None


def resolve_bundled(name: str) -> Optional[Path]:
    """The bundled model called ``name``, if there is one."""
    return _named_in(MODELS_DIR, name)


def resolve_model(name_or_path: str) -> Path:
    """``digits`` -> the bundled digits.tflite; ``pets`` -> a taught model in ``user_models_dir()``; a path to a
    model file (or to its ``.json``) is taken as given."""
    if "/" not in name_or_path and Path(name_or_path).suffix not in (*MODEL_SUFFIXES, ".json"):
        found = resolve_bundled(name_or_path) or _named_in(user_models_dir(), name_or_path)
        if found is not None:
            return found
    path = Path(name_or_path)
    try:
        if path.suffix == ".json":
            path = next((path.with_suffix(s) for s in MODEL_SUFFIXES if path.with_suffix(s).is_file()), path)
        if path.is_file():
            return path
    except OSError as exc:
        raise UnknownModelError(f"{printable(name_or_path)}: cannot look there: {exc.strerror or exc}") from None
    names = ", ".join(p.stem for p in bundled_model_paths()) or "none"
    raise UnknownModelError(f"{printable(name_or_path)}: no such model file or bundled model (bundled: {names}; "
                            f"taught models are looked for in {user_models_dir()})")
