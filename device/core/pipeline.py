"""Frame in, result out: framing (shared with the trainer), the model, and per-stage timings.

Reads top to bottom as the data flows: frame -> gray or RGB pixels -> ``Classifier.classify_photo``
(framing, encode, invoke, decode, "nothing in view") -> ``Result``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import resolve_model
from piclassify.device.errors import UnknownModelError
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.result import STAGES, Result
from piclassify.shared.framing.framed import FramingSteps


class Pipeline:
    """A loaded model and the framing its manifest asks for."""

    def __init__(self, classifier: Classifier) -> None:
        if classifier.manifest.table is not None:
            raise UnknownModelError(f"{classifier.manifest.name}: a table model, not for photos; use "
                                    f"`piclassify predict --model {classifier.manifest.name} --values ...`")
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
        """Classify one frame of any size; a gray model reads the frame's gray pixels, converted once.

        "Nothing in view" comes from the framing (the model does not run at all), from the backbone (the
        frame is unlike the photos the model learnt from) or from the model's output, as the manifest says.
        """
        t0 = time.perf_counter()
        gray = self.manifest.colour == "gray" and self.manifest.resize != "garment" and not self.manifest.is_all_head
        photo = frame.gray if gray else frame.rgb
        colour = frame.rgb if gray and self.manifest.backbone is not None else None  # the backbone sees colour
        convert_ms = (time.perf_counter() - t0) * 1e3
        answer = self.classifier.classify_photo(photo, steps, colour)
        stage_ms = {stage: answer.stage_ms.get(stage, 0.0) for stage in STAGES}
        stage_ms["preprocess"] += convert_ms
        return Result(self.manifest.name, frame.origin, frame.index, frame.timestamp, answer.prediction,
                      answer.reason, latency_ms=sum(stage_ms.values()), stage_ms=stage_ms)
