"""An image classifier made elsewhere becomes a piclassify model: its file, its manifest, its gate.

The file is kept byte for byte (the manifest's sha256 is the tool's own file). Everything about the model is
checked before anything is written; then the model is loaded from a staging folder inside ``--out`` exactly
as every command will load it, ``--check`` measures the readings there, and the files are renamed into place
with the manifest last: a failed import leaves ``--out`` as it was. ``piclassify import`` (the Pi) and
``piclassify-train import`` (a Keras model, converted first) both end here.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import checked_file
from piclassify.shared.contract.manifest import Manifest, Scaling
from piclassify.shared.errors import ManifestError, ModelImportError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.imports.check import MARGIN, Checked, best_of, check_readings, labelled_photos
from piclassify.shared.imports.gate_fit import Gate, gate_alone, gate_from_examples, gate_off, with_gate
from piclassify.shared.imports.manifest import imported_manifest
from piclassify.shared.imports.model_file import ModelFile
from piclassify.shared.imports.readings import (
    Reading,
    apply_reading,
    candidates,
    default_reading,
    is_digit_like,
    with_flags,
)
from piclassify.shared.inference.runtime import distribution_version, load_runtime

MIN_BEST_ACCURACY = 0.5  # a best reading below it means the photos or the labels are not what the model reads


@dataclass(frozen=True)
class ImportOptions:
    """What the user said: the tool that made the model (``teachable-machine``, ``metadata``, ``workshop``), the
    reading's flags (scale, resize, resample, colour, ink; ``scaling`` from --mean/--std), the photos, the gate."""

    name: str
    out_dir: Path
    tool: str = "workshop"
    flags: Mapping[str, Optional[str]] = field(default_factory=dict)
    scaling: Optional[Scaling] = None
    check: Optional[Path] = None
    examples: Optional[Path] = None
    nothing: str = "backbone"  # or "off"
    nothing_label: Optional[str] = None
    backbone_path: Optional[Path] = None
    runtime: Optional[str] = None
    threads: Optional[int] = None
    seed: int = 1
    training: Mapping[str, Any] = field(default_factory=dict)  # what the caller adds (a Keras model's conversion)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)  # the converter's, for a model converted here


def import_image_model(model: ModelFile, labels: tuple[str, ...], options: ImportOptions,
                       log: Callable[[str], None] = print) -> tuple[Manifest, Path]:
    """Check, stage, measure and write ``model`` as ``options.out_dir/NAME.tflite`` with its manifest."""
    task = task_for(model, labels)
    background = _nothing_label(options.nothing_label, labels)
    reading = with_flags(default_reading(model, options.tool), model, options.flags, options.scaling)
    _check_reading(model, reading)
    if options.nothing != "off" and options.backbone_path is None:
        raise ModelImportError("the gate needs the backbone: give --nothing off to import without it")
    out_dir = Path(options.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    except OSError as exc:
        raise ModelImportError(f"{out_dir}: cannot write there: {exc.strerror or exc}") from None
    try:
        manifest = _staged(model, labels, task, reading, background, options, staging, log)
        model_path = _write(model, manifest, _gate(model, labels, background, options, log), options, log)
    except OSError as exc:
        raise ModelImportError(f"{out_dir}: cannot write {options.name} there: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Classifier.load(model_path, options.threads, options.runtime).manifest, model_path


def task_for(model: ModelFile, labels: tuple[str, ...]) -> str:
    """binary: one output (a sigmoid) and two labels; multiclass: one output per label, at least two."""
    if model.outputs == 1 and len(labels) == 2:
        if model.activation == "softmax":
            raise ModelImportError(f"{model.origin}: one softmax output is always 1; it cannot tell 2 labels apart")
        return "binary"
    if model.outputs == len(labels) >= 2:
        if model.activation == "sigmoid":
            raise ModelImportError(f"{model.origin}: one sigmoid per output (multi-label); piclassify reads one "
                                   "class per frame: a model ending in softmax")
        return "multiclass"
    raise ModelImportError(f"{model.origin}: {model.outputs} output(s), but the labels name {len(labels)} (binary: "
                           "1 output and 2 labels; multiclass: one output per label)")


def _nothing_label(name: Optional[str], labels: tuple[str, ...]) -> Optional[str]:
    if name is None:
        return None
    found = [label for label in labels if label.casefold() == name.casefold()]
    if not found:
        raise ModelImportError(f"--nothing-label {name[:60]!r} is none of the labels ({', '.join(labels)[:200]})")
    return found[0]


def _check_reading(model: ModelFile, reading: Reading) -> None:
    if (reading.colour == "gray") != (model.channels == 1):
        raise ModelImportError(f"{model.origin}: its input has {model.channels} channel(s); colour {reading.colour} "
                               f"is for {'1' if reading.colour == 'gray' else '3'}")
    if reading.resize == "object" and not is_digit_like(model):
        raise ModelImportError(f"{model.origin}: MNIST's framing (--resize object) is for a small square gray input, "
                               f"not {model.height}x{model.width}x{model.channels}")


def _staged(model: ModelFile, labels: tuple[str, ...], task: str, reading: Reading, background: Optional[str],
            options: ImportOptions, staging: Path, log: Callable[[str], None]) -> Manifest:
    """The model loaded from ``staging`` as every command loads it, with ``reading`` or, with ``--check``, the best
    reading measured; returns its manifest (no gate yet)."""
    runtime = load_runtime(options.runtime)
    versions = {"piclassify": distribution_version("piclassify"), "numpy": np.__version__,
                "python": platform.python_version(), runtime.name: runtime.version, **options.versions}
    manifest = imported_manifest(model, options.name, labels, task, reading, background, versions,
                                 {**options.training, "tool": options.tool})
    staged = staging / manifest.model_file
    staged.write_bytes(model.data)
    write_atomically(staged.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    classifier = Classifier.load(staged, options.threads, options.runtime)
    log(f"{model.origin}: {model.height}x{model.width}x{model.channels} {model.input.dtype} in, {model.outputs} "
        f"{model.output.dtype} out ({model.activation}); {task}: {', '.join(labels)[:200]}")
    metrics = dict(options.metrics)
    if options.check is not None:
        chosen = _checked_reading(classifier, reading, model, options, log)
        reading = chosen.reading
        metrics.update(test_set=str(options.check), test_images=chosen.photos,
                       tflite_accuracy=round(chosen.accuracy, 5))
    else:
        log(f"reading: {reading.describe()} ({_said_by(options)}; --check DIR measures every reading)")
    training = {**manifest.training, "reading": reading.describe()}
    return replace(apply_reading(manifest, reading), metrics=metrics, training=training)


def _said_by(options: ImportOptions) -> str:
    tool = {"teachable-machine": "Teachable Machine's", "metadata": "the model's metadata and the Task Library's",
            "workshop": "the workshop notebook's"}[options.tool]
    return f"{tool} documented preprocessing" + (", with your flags" if any(options.flags.values()) else "")


def _checked_reading(classifier: Classifier, reading: Reading, model: ModelFile, options: ImportOptions,
                     log: Callable[[str], None]) -> Checked:
    assert options.check is not None
    photos = labelled_photos(options.check, classifier.manifest.labels, log)
    checked = check_readings(classifier, candidates(reading, model, options.flags), photos)
    for item in sorted(checked, key=lambda item: -item.right):
        log(f"  {100 * item.accuracy:5.1f}%  {item.reading.describe()}")
    best = best_of(checked)
    if best.accuracy < MIN_BEST_ACCURACY:
        raise ModelImportError(f"{photos.where}: no reading gets more than {100 * best.accuracy:.0f}% of these "
                               f"photos right; are they of the model's labels, and is --labels in its output order?")
    top = max(item.right for item in checked)
    close = sum(1 for item in checked if item.right >= best.right and item is not best)
    ties = (f"; {close} other reading{'s' if close > 1 else ''} as good or within {100 * MARGIN:.0f}% (more photos "
            f"would tell them apart)" if close else "")
    default = checked[0]
    if best is default:
        ties = ties if top == best.right else (f"; the best other got {100 * top / best.photos:.1f}%, within "
                                               f"{100 * MARGIN:.0f}%: not enough to replace it")
        log(f"kept the documented reading: {best.reading.describe()}, {100 * best.accuracy:.1f}% right{ties}")
    else:
        log(f"kept the best reading: {best.reading.describe()}, {100 * best.accuracy:.1f}% right; the documented one "
            f"({default.reading.describe()}) got {100 * default.accuracy:.1f}%{ties}")
    return best


def _gate(model: ModelFile, labels: tuple[str, ...], background: Optional[str], options: ImportOptions,
          log: Callable[[str], None]) -> Gate:
    if options.nothing == "off":
        return gate_off()
    assert options.backbone_path is not None
    if options.examples is None:
        log("nothing in view: the backbone alone (no --examples): it turns away a frame it recognises nothing in "
            "(a bare wall, an empty table), never a thing that is none of the labels")
        return gate_alone(options.backbone_path)
    photos = labelled_photos(options.examples, labels, log)
    needed = tuple(index for index, label in enumerate(labels) if label != background)
    return gate_from_examples(options.backbone_path, photos, labels, options.name, needed, options.threads,
                              options.runtime, options.seed, log)


def _write(model: ModelFile, manifest: Manifest, gate: Gate, options: ImportOptions,
           log: Callable[[str], None]) -> Path:
    """The backbone (when the folder lacks it), the head, the model, and the manifest last."""
    out_dir = Path(options.out_dir)
    metrics = {**manifest.metrics, "nothing_in_view": gate.measured}
    manifest = replace(manifest, backbone=gate.backbone, head=gate.head, reject=with_gate(manifest.reject, gate),
                       metrics=metrics)
    if gate.backbone is not None and options.backbone_path is not None:
        _place_backbone(options.backbone_path, out_dir, gate.backbone.model_file, gate.backbone.sha256)
    if gate.head is not None:
        write_atomically(out_dir / gate.head.file, gate.head_data)
    model_path = out_dir / manifest.model_file
    write_atomically(model_path, model.data)
    write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    log(f"wrote {model_path} and {model_path.with_suffix('.json')}"
        + (f" (and {gate.head.file})" if gate.head is not None else ""))
    return model_path


def _place_backbone(source: Path, out_dir: Path, file_name: str, sha256: str) -> None:
    """The backbone beside the models that use it: copied with its description when the folder lacks it."""
    from piclassify.shared.backbone.extractor import description_path

    target = out_dir / file_name
    if Path(source).resolve() != target.resolve() and not target.exists():
        write_atomically(target, Path(source).read_bytes())
        description = description_path(source)
        write_atomically(out_dir / description.name, description.read_bytes())
    try:
        checked_file(out_dir, file_name, sha256, "backbone")
    except ManifestError as exc:
        raise ModelImportError(f"{exc}; another backbone is already there: import into another folder") from None
