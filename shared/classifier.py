"""A model with its manifest: checked on load, fed and read through the shared contract.

A model is a TFLite file (the 28x28 models), a head on the ImageNet backbone (photo models), or both
(a 28x28 model whose "nothing in view" the backbone decides). The device classifies camera frames
with it; the trainer verifies an exported model with it, so the accuracy in a manifest is measured
by exactly the code the Pi runs.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

from piclassify.shared.backbone.gate import IN_VIEW, Evidence, judge, unsure, weigh
from piclassify.shared.backbone.head import HeadArrays
from piclassify.shared.backbone.head_file import load_manifest_head
from piclassify.shared.contract.files_beside import checked_file
from piclassify.shared.contract.manifest import Head, Manifest, load_manifest, manifest_path_for
from piclassify.shared.contract.tensor_check import check_tensor_details
from piclassify.shared.contract.tensors import (
    InputEncoder,
    Prediction,
    decode_probabilities,
    output_probabilities,
    rejection,
)
from piclassify.shared.errors import ManifestError
from piclassify.shared.inference.interpreter import ModelLoadError, open_interpreter, runtime_step
from piclassify.shared.inference.runtime import Runtime, load_runtime
from piclassify.shared.native_stderr import native_stderr, not_info

if TYPE_CHECKING:
    from piclassify.shared.backbone.extractor import FeatureExtractor
    from piclassify.shared.framing.framed import FramingSteps

__all__ = ["Answer", "Classifier", "ModelLoadError", "check_model_files"]


class Classifier:
    """Load once, then ``predict`` prepared uint8 images (already framed to the model's input size), or
    ``classify_photo`` a photo of any size."""

    def __init__(self, model_path: Path, manifest: Manifest, runtime: Runtime, threads: Optional[int] = None) -> None:
        self.model_path = Path(model_path)
        self.manifest = manifest
        self.runtime = runtime
        self.features: Optional[FeatureExtractor] = None
        self.head: Optional[HeadArrays] = None
        if not manifest.is_all_head:
            self._open_own_model(threads)
        if manifest.backbone is not None:  # after the model's own file: a broken model fails before 5 MB are read
            self.features, self.head = _open_backbone(self.model_path.parent, manifest, runtime, threads)

    def _open_own_model(self, threads: Optional[int]) -> None:
        manifest, runtime = self.manifest, self.runtime
        with native_stderr(keep=not_info):  # LiteRT prints "INFO: Created ... XNNPACK delegate" on each load
            self._interpreter = open_interpreter(self.model_path, runtime, threads,
                                                 manifest.versions.get("tensorflow", "unknown"))
            runtime_step(self._interpreter.allocate_tensors, self.model_path, runtime, "allocate its tensors")
            input_details = self._interpreter.get_input_details()
            output_details = self._interpreter.get_output_details()
            try:
                check_tensor_details(manifest, input_details, output_details)
            except ManifestError as exc:
                raise ManifestError(f"{manifest_path_for(self.model_path)}: {exc}") from None
            self._input_index = input_details[0]["index"]
            self._output_index = output_details[0]["index"]
            # One run on zeros: a model that loads but cannot run fails here (at start, or a reload that keeps
            # the running model) rather than on the first frame.
            zeros = np.zeros((1, *manifest.input.shape), dtype=manifest.input.dtype)
            runtime_step(lambda: _finite(self.invoke(zeros)), self.model_path, runtime, "run it")
        self._encoder = InputEncoder(manifest)

    @classmethod
    def load(cls, model_path: Path, threads: Optional[int] = None, runtime: Optional[str] = None) -> "Classifier":
        """Read and check the manifest beside ``model_path``, then open the model with the first runtime found."""
        manifest = load_manifest(model_path)
        return cls(model_path, manifest, load_runtime(runtime), threads)

    def encode(self, image: np.ndarray) -> np.ndarray:
        return self._encoder.encode(image)

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model's own TFLite file on an encoded batch of one; returns the raw output row."""
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)

    def image_probabilities(self, image: np.ndarray) -> np.ndarray:
        """One prepared image's class probabilities; averaged with its mirror image's when the manifest says so.

        For a model that is all head, the image is the backbone's input (``features.frame`` of a photo).
        """
        if self.manifest.is_all_head:
            return self._head_probabilities(self._backbone()[0].extract(image)[0])
        return self._probabilities_of(self.encode(image), image)

    def _backbone(self) -> tuple[FeatureExtractor, HeadArrays, Head]:
        """The backbone, the head's arrays and the manifest's head section, which a model on a backbone has."""
        if self.features is None or self.head is None or self.manifest.head is None:
            raise ManifestError(f"{self.manifest.name}: not a model on the ImageNet backbone")
        return self.features, self.head, self.manifest.head

    def _head_probabilities(self, features: np.ndarray) -> np.ndarray:
        return output_probabilities(self._backbone()[1].logits(features[np.newaxis]), self.manifest)[0]

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

    def evidence(self, logits: np.ndarray) -> Evidence:
        """What the backbone's ImageNet logits of a frame say for the gate (``shared.backbone.gate``); a model with no
        head (imported without photos) has nothing to compare the frame with, only the logits themselves."""
        if self.head is None or self.manifest.head is None:
            return Evidence(None, None, float(np.max(logits)))
        return weigh(self.head, self.manifest.head.neighbours, logits[np.newaxis])[0]

    def classify_photo(self, photo: np.ndarray, steps: Optional[FramingSteps] = None,
                       colour: Optional[np.ndarray] = None) -> Answer:
        """A photo of any size, framed as the manifest says, to a prediction or "nothing in view".

        ``colour`` is the same photo in RGB when ``photo`` is its gray version (the backbone sees colour).
        The device runs every camera frame through this, and the trainer measures its reject rates with it.
        """
        from piclassify.shared.framing.model_input import frame_for_model  # OpenCV: only models of photos need it

        clock = _StageClock()
        manifest = self.manifest
        # The backbone looks at camera photos; an image already of the model's own input size is a dataset
        # item (a Fashion-MNIST image), which the model's .tflite reads as it always has.
        backbone = self.features is not None and (manifest.is_all_head or np.shape(photo)[:2] != (manifest.height,
                                                                                                  manifest.width))
        head_names = backbone and manifest.head is not None and manifest.head.classifies
        image = None
        if not head_names:  # the framing's checks cost less than the backbone: they go first
            with clock("preprocess"):
                framed = frame_for_model(photo, manifest, steps)
            if framed.image is None:
                return Answer(None, framed.reason, clock.ms)
            image = framed.image
        verdict, features = IN_VIEW, None
        if backbone:
            extractor = self.features
            assert extractor is not None, "a model on the backbone opened it"
            with clock("preprocess"):
                backbone_input = extractor.frame(photo if colour is None else colour)
            with clock("invoke"):
                features, logits = extractor.extract(backbone_input)
            with clock("postprocess"):
                verdict = judge(self.evidence(logits), manifest.reject)
            if steps is not None:  # when the head names the label, what the backbone saw is the model's input
                steps.keep("model-input" if head_names else "backbone-input", backbone_input)
            if verdict.reason is not None and not verdict.unless_sure:
                return Answer(None, verdict.reason, clock.ms)
        if image is None:  # not framed: the head names what the backbone saw
            assert features is not None, "a model that is all head ran the backbone"
            with clock("postprocess"):
                probabilities = self._head_probabilities(features)
        else:
            with clock("preprocess"):
                tensor = self.encode(image)
            with clock("invoke"):
                probabilities = self._probabilities_of(tensor, image)
        with clock("postprocess"):
            prediction = decode_probabilities(probabilities, manifest)
            reason = unsure(verdict, prediction.score, manifest.reject) if verdict.unless_sure else None
            reason = reason or rejection(prediction, manifest.reject)
        return Answer(None if reason else prediction, reason, clock.ms)


def _finite(output: np.ndarray) -> None:
    """A model's output on zeros must be numbers: NaN or infinity would reach every answer."""
    if not np.all(np.isfinite(np.asarray(output, np.float64))):
        raise ValueError("its output on an input of zeros is not all finite numbers")


class _StageClock:
    """Milliseconds spent per stage (preprocess, invoke, postprocess), added up over ``with clock(stage):`` blocks."""

    def __init__(self) -> None:
        self.ms = {"preprocess": 0.0, "invoke": 0.0, "postprocess": 0.0}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[stage] += (time.perf_counter() - start) * 1e3


def check_model_files(model_path: Path) -> Manifest:
    """What loading ``model_path`` checks, short of opening the runtime (``piclassify models`` asks it of every
    model): its manifest, and every file it names (the model's own, a backbone's, a head's arrays)."""
    manifest = load_manifest(model_path)
    if manifest.backbone is not None:
        from piclassify.shared.backbone.extractor import locate_backbone  # OpenCV: only photo models need it

        locate_backbone(Path(model_path).parent, manifest.backbone)  # beside it, else the bundled one
    if manifest.head is not None:
        _head(Path(model_path).parent, manifest)
    return manifest


def _open_backbone(folder: Path, manifest: Manifest, runtime: Runtime,
                   threads: Optional[int]) -> tuple[FeatureExtractor, Optional[HeadArrays]]:
    """The backbone and the head file beside the manifest (if it has one), each checked against it."""
    from piclassify.shared.backbone.extractor import FeatureExtractor  # OpenCV: only photo models need it

    backbone = manifest.backbone
    assert backbone is not None, "a model on the backbone has a backbone section"
    head = None if manifest.head is None else _head(folder, manifest)
    return FeatureExtractor(folder, backbone, runtime, threads, manifest.versions.get("tensorflow", "unknown")), head


def _head(folder: Path, manifest: Manifest) -> HeadArrays:
    """The head file beside the manifest, checked against it and against the backbone's outputs."""
    section = manifest.backbone_sections()[1]
    return load_manifest_head(checked_file(folder, section.file, section.sha256, "head"), manifest)


@dataclass(frozen=True)
class Answer:
    """What a photo showed: a prediction, or none and why nothing is in view; and each stage's milliseconds."""

    prediction: Optional[Prediction]
    reason: Optional[str]
    stage_ms: dict[str, float]
