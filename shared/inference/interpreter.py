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
MAX_MESSAGE = 160  # characters of the runtime's own words in a one-line error
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")
# LiteRT's Python error reporter appends each of its messages to the last without a separator, and only some end
# with a newline: "... in XNNPACK delegateunsupported datatype ... tensor 9Node number 8 ...". A message starts
# with one of these; where one follows a non-space, a new message begins.
_MESSAGE_START = re.compile(r"(?<=[^\s;.,:(])(?=(?:Node number \d|unsupported |Unsupported |failed to |Failed to |"
                            r"Invalid |AllocateTensors\(\)|Didn't find |Encountered |Cannot |cannot |Tensor \d))")


class ModelLoadError(PiclassifyError):
    """The model file cannot be opened by the runtime in use."""


def runtime_step(step: Callable[[], object], model_path: Path, runtime: Runtime, what: str) -> None:
    """``allocate_tensors`` or a first invoke, with the runtime's ValueError/RuntimeError as one line."""
    try:
        step()
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{model_path}: {runtime.name} {runtime.version} cannot {what} "
                             f"({runtime_message(exc)})") from None


def runtime_message(error: Exception) -> str:
    """The runtime's messages in ``error`` as separate sentences on one line, at most ``MAX_MESSAGE`` characters."""
    sentences = [" ".join(part.split()).rstrip(".") for line in str(error).splitlines()
                 for part in _MESSAGE_START.split(line)]
    text = ". ".join(sentence for sentence in sentences if sentence) or type(error).__name__
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


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
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open "
                             f"({runtime_message(exc)})") from None
