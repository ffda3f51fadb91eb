"""Frame in, result out: framing (shared with the trainer), the model, and per-stage timings.

Reads top to bottom as the data flows: frame -> ``frame_for_model`` -> encode -> invoke -> decode.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from piclassify.device.bundled import resolve_model
from piclassify.device.frames import Frame
from piclassify.shared.classifier import Classifier
from piclassify.shared.framing import FramingSteps, frame_for_model
from piclassify.shared.manifest import Manifest
from piclassify.shared.result import Result
from piclassify.shared.tensors import decode_output

STAGES = ("preprocess", "invoke", "postprocess")


class Pipeline:
    """A loaded model and the framing its manifest asks for."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.manifest: Manifest = classifier.manifest

    @classmethod
    def load(cls, model: str, threads: Optional[int] = None, runtime: Optional[str] = None) -> "Pipeline":
        """``model`` is a bundled name (``digits``) or a ``.tflite`` path with its manifest beside it."""
        return cls(Classifier.load(resolve_model(model), threads=threads, runtime=runtime))

    @property
    def model_path(self) -> Path:
        return self.classifier.model_path

    def classify(self, frame: Frame, steps: Optional[FramingSteps] = None) -> Result:
        """Classify one frame of any size; a gray model reads the frame's gray pixels, converted once."""
        t0 = time.perf_counter()
        image = frame.gray if self.manifest.colour == "gray" else frame.rgb
        framed = frame_for_model(image, self.manifest, steps)
        tensor = self.classifier.encode(framed)
        t1 = time.perf_counter()
        raw = self.classifier.invoke(tensor)
        t2 = time.perf_counter()
        prediction = decode_output(raw, self.manifest)
        t3 = time.perf_counter()
        stage_ms = {"preprocess": (t1 - t0) * 1e3, "invoke": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return Result(self.manifest.name, frame.origin, frame.index, frame.timestamp, prediction,
                      latency_ms=(t3 - t0) * 1e3, stage_ms=stage_ms)
