"""Opening a ``.tflite`` with the runtime in use, with every way that can fail as one line naming the file.

Both the models' own interpreters (``shared.classifier``) and the backbone's (``shared.backbone.extractor``) open here.
A model may be kept gzipped (``.tflite.gz``, the bundled backbone): it is inflated in memory, with a cap.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable, Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.inference.model_structure import structure_problem
from piclassify.shared.inference.runtime import Runtime, default_threads

MAX_MODEL_BYTES = 64 * 2 ** 20  # far above any model here (the backbone is 5 MB); a gzip bomb stops here
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


def read_model(model_path: Path) -> bytes:
    """The model's bytes: the file's, or inflated from a ``.gz`` (at most ``MAX_MODEL_BYTES``).

    A ``.gz`` is inflated as it is read, so the packed and the inflated bytes are never both in memory.
    """
    try:
        with open(model_path, "rb") as file:
            if not str(model_path).endswith(".gz"):
                return file.read()
            return _inflate(file, model_path)
    except OSError as exc:
        raise ModelLoadError(f"{model_path}: cannot read: {exc.strerror or exc}") from None


def _inflate(file: BinaryIO, model_path: Path) -> bytes:
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    content = bytearray()
    try:
        while not inflate.eof and (chunk := file.read(1 << 20)):
            content += inflate.decompress(chunk, MAX_MODEL_BYTES + 1 - len(content))
            if len(content) > MAX_MODEL_BYTES or inflate.unconsumed_tail:
                raise ModelLoadError(f"{model_path}: inflates to more than {MAX_MODEL_BYTES // 2 ** 20} MiB, "
                                     "more than any model")
    except zlib.error as exc:
        raise ModelLoadError(f"{model_path}: not a whole gzip file ({exc})") from None
    if not inflate.eof:
        raise ModelLoadError(f"{model_path}: not a whole gzip file (it ends early)")
    return bytes(content)


def open_interpreter(model_path: Path, runtime: Runtime, threads: Optional[int], converter: str) -> Any:
    """The runtime's interpreter for ``model_path`` (not yet allocated), on ``threads`` (default: ``default_threads``);
    ``converter`` is the TensorFlow version that wrote the model, named when the runtime lacks one of its ops."""
    content = read_model(model_path)
    problem = structure_problem(content)
    if problem:
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open ({problem})")
    try:
        return runtime.interpreter_class(model_content=content, num_threads=threads or default_threads())
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
                f"converted by TensorFlow {converter}, so use a runtime at least that new "
                "(pip install -U ai-edge-litert)"
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open "
                             f"({first_line})") from None
