"""A TFLite model with its manifest: checked on load, fed and read through the shared contract.

The device classifies camera frames with it; the trainer verifies an exported model with it,
so the accuracy in a manifest is measured by exactly the code the Pi runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.manifest import Manifest, check_tensor_details, load_manifest
from piclassify.shared.runtime import Runtime, load_runtime
from piclassify.shared.tensors import InputEncoder, Prediction, decode_output, output_probabilities

_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")


class ModelLoadError(PiclassifyError):
    """The model file cannot be opened by the runtime in use."""


class Classifier:
    """Load once, then ``predict`` prepared uint8 images (already framed to the model's input size)."""

    def __init__(self, model_path: Path, manifest: Manifest, runtime: Runtime, threads: Optional[int] = None) -> None:
        self.model_path = Path(model_path)
        self.manifest = manifest
        self.runtime = runtime
        self._interpreter = _open_interpreter(self.model_path, manifest, runtime, threads)
        self._interpreter.allocate_tensors()
        input_details = self._interpreter.get_input_details()
        output_details = self._interpreter.get_output_details()
        check_tensor_details(manifest, input_details, output_details)
        self._input_index = input_details[0]["index"]
        self._output_index = output_details[0]["index"]
        self._encoder = InputEncoder(manifest)

    @classmethod
    def load(cls, model_path: Path, threads: Optional[int] = None, runtime: Optional[str] = None) -> "Classifier":
        """Read and check the manifest beside ``model_path``, then open the model with the first runtime found."""
        manifest = load_manifest(model_path)
        return cls(model_path, manifest, load_runtime(runtime), threads)

    def encode(self, image: np.ndarray) -> np.ndarray:
        return self._encoder.encode(image)

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on an encoded batch of one; returns the raw output row."""
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)

    def predict(self, image: np.ndarray) -> Prediction:
        return decode_output(self.invoke(self.encode(image)), self.manifest)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for many prepared images, one invoke each, as the device would run them."""
        raw = np.concatenate([self.invoke(self.encode(image)) for image in images])
        return output_probabilities(raw, self.manifest)


def _open_interpreter(model_path: Path, manifest: Manifest, runtime: Runtime, threads: Optional[int]):
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
        converter = manifest.versions.get("tensorflow", "unknown")
        if missing:
            op, version = missing.groups()
            raise ModelLoadError(
                f"{model_path}: {runtime.name} {runtime.version} lacks op {op} version {version}; the model was "
                f"converted by TensorFlow {converter}, so use a runtime at least that new (pip install -U ai-edge-litert)"
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open ({first_line})") from None
