"""Opening a ``.tflite`` with the runtime in use, with every way that can fail as one line naming the file.

Both the models' own interpreters (``shared.classifier``) and the backbone's (``shared.backbone``) open here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.model_structure import structure_problem
from piclassify.shared.runtime import Runtime

_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")


class ModelLoadError(PiclassifyError):
    """The model file cannot be opened by the runtime in use."""


def runtime_step(step: Callable[[], object], model_path: Path, runtime: Runtime, what: str) -> None:
    """``allocate_tensors`` or a first invoke, with the runtime's ValueError/RuntimeError as one line."""
    try:
        step()
    except (ValueError, RuntimeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if len(text) > 160:
            text = text[:159] + "…"
        raise ModelLoadError(f"{model_path}: {runtime.name} {runtime.version} cannot {what} ({text})") from None


def open_interpreter(model_path: Path, runtime: Runtime, threads: Optional[int], converter: str) -> Any:
    """The runtime's interpreter for ``model_path`` (not yet allocated); ``converter`` is the TensorFlow
    version that wrote the model, named when the runtime lacks one of its ops."""
    try:
        problem = structure_problem(model_path.read_bytes())
    except OSError as exc:
        raise ModelLoadError(f"{model_path}: cannot read: {exc.strerror or exc}") from None
    if problem:
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open ({problem})")
    try:
        return runtime.interpreter_class(model_path=str(model_path), num_threads=threads)
    except SystemError as exc:
        if runtime.name == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2:
            raise ModelLoadError(
                f"{model_path}: tflite-runtime {runtime.version} does not work with NumPy {np.__version__}; "
                "install ai-edge-litert, or pip install 'numpy<2'") from None
        raise ModelLoadError(f"{model_path}: {runtime.name} {runtime.version} cannot open it ({exc})") from None
    except (ValueError, RuntimeError) as exc:
        missing = _MISSING_OP.search(str(exc))
        if missing:
            op, version = missing.groups()
            raise ModelLoadError(
                f"{model_path}: {runtime.name} {runtime.version} lacks op {op} version {version}; the model was "
                f"converted by TensorFlow {converter}, so use a runtime at least that new (pip install -U ai-edge-litert)"
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open ({first_line})") from None
