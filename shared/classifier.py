"""A TFLite model with its manifest: checked on load, fed and read through the shared contract.

The device classifies camera frames with it; the trainer verifies an exported model with it,
so the accuracy in a manifest is measured by exactly the code the Pi runs.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.manifest import Manifest, check_tensor_details, load_manifest
from piclassify.shared.model_structure import structure_problem
from piclassify.shared.native_stderr import native_stderr, not_info
from piclassify.shared.runtime import Runtime, load_runtime
from piclassify.shared.tensors import InputEncoder, Prediction, decode_probabilities, output_probabilities, rejection

if TYPE_CHECKING:
    from piclassify.shared.framing import FramingSteps

_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")


class ModelLoadError(PiclassifyError):
    """The model file cannot be opened by the runtime in use."""


class Classifier:
    """Load once, then ``predict`` prepared uint8 images (already framed to the model's input size)."""

    def __init__(self, model_path: Path, manifest: Manifest, runtime: Runtime, threads: Optional[int] = None) -> None:
        self.model_path = Path(model_path)
        self.manifest = manifest
        self.runtime = runtime
        with native_stderr(keep=not_info):  # LiteRT prints "INFO: Created ... XNNPACK delegate" on each load
            self._interpreter = _open_interpreter(self.model_path, manifest, runtime, threads)
            _runtime_step(self._interpreter.allocate_tensors, self.model_path, runtime, "allocate its tensors")
            input_details = self._interpreter.get_input_details()
            output_details = self._interpreter.get_output_details()
            check_tensor_details(manifest, input_details, output_details)
            self._input_index = input_details[0]["index"]
            self._output_index = output_details[0]["index"]
            # One run on zeros: a model that loads but cannot run fails here (at start, or a reload that keeps
            # the running model) rather than on the first frame.
            zeros = np.zeros((1, *manifest.input.shape), dtype=manifest.input.dtype)
            _runtime_step(lambda: self.invoke(zeros), self.model_path, runtime, "run it")
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

    def image_probabilities(self, image: np.ndarray) -> np.ndarray:
        """One prepared image's class probabilities; averaged with its mirror image's when the manifest says so."""
        return self._probabilities_of(self.encode(image), image)

    def _probabilities_of(self, tensor: np.ndarray, image: np.ndarray) -> np.ndarray:
        probabilities = output_probabilities(self.invoke(tensor), self.manifest)[0]
        if self.manifest.mirror_average:
            mirrored = output_probabilities(self.invoke(self.encode(np.asarray(image)[:, ::-1])), self.manifest)[0]
            probabilities = (probabilities + mirrored) / 2.0
        return probabilities

    def predict(self, image: np.ndarray) -> Prediction:
        return decode_probabilities(self.image_probabilities(image), self.manifest)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for many prepared images, one at a time, as the device would run them."""
        return np.stack([self.image_probabilities(image) for image in images])

    def classify_photo(self, photo: np.ndarray, steps: Optional[FramingSteps] = None) -> Answer:
        """A photo of any size, framed as the manifest says, to a prediction or "nothing in view".

        The device runs every camera frame through this, and the trainer measures its reject rates with it.
        """
        from piclassify.shared.framing import frame_for_model  # OpenCV: only models of photos need it

        t0 = time.perf_counter()
        framed = frame_for_model(photo, self.manifest, steps)
        if framed.image is None:
            return Answer(None, framed.reason, {"preprocess": (time.perf_counter() - t0) * 1e3})
        tensor = self.encode(framed.image)
        t1 = time.perf_counter()
        probabilities = self._probabilities_of(tensor, framed.image)
        t2 = time.perf_counter()
        prediction = decode_probabilities(probabilities, self.manifest)
        reason = rejection(prediction, self.manifest.reject)
        t3 = time.perf_counter()
        stage_ms = {"preprocess": (t1 - t0) * 1e3, "invoke": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return Answer(None if reason else prediction, reason, stage_ms)


@dataclass(frozen=True)
class Answer:
    """What a photo showed: a prediction, or none and why nothing is in view; and each stage's milliseconds."""

    prediction: Optional[Prediction]
    reason: Optional[str]
    stage_ms: dict[str, float]


def _runtime_step(step: Callable[[], object], model_path: Path, runtime: Runtime, what: str) -> None:
    """``allocate_tensors`` or a first invoke, with the runtime's ValueError/RuntimeError as one line."""
    try:
        step()
    except (ValueError, RuntimeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if len(text) > 160:
            text = text[:159] + "…"
        raise ModelLoadError(f"{model_path}: {runtime.name} {runtime.version} cannot {what} ({text})") from None


def _open_interpreter(model_path: Path, manifest: Manifest, runtime: Runtime, threads: Optional[int]):
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
        converter = manifest.versions.get("tensorflow", "unknown")
        if missing:
            op, version = missing.groups()
            raise ModelLoadError(
                f"{model_path}: {runtime.name} {runtime.version} lacks op {op} version {version}; the model was "
                f"converted by TensorFlow {converter}, so use a runtime at least that new (pip install -U ai-edge-litert)"
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{model_path}: not a model {runtime.name} {runtime.version} can open ({first_line})") from None
