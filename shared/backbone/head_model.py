"""Writing a photo model that is a head on the backbone: the manifest, the ``.npz``, the backbone beside them.

The trainer's ``piclassify-train folder`` and the Pi's ``piclassify teach`` both end here, so the two
make the same kind of model. The head and its manifest are written and checked together before either is
renamed into place, under a lock on the folder: a failed write leaves the folder as it was, never half a model.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from pathlib import Path
from typing import Any, Mapping

from piclassify.shared.backbone.extractor import description_path
from piclassify.shared.backbone.head import SURE_CLASS_MASS, FittedHead
from piclassify.shared.backbone.head_file import load_manifest_head
from piclassify.shared.contract.manifest import SCHEMA_VERSION, Backbone, Head, Manifest, TensorSpec, checked_file
from piclassify.shared.contract.manifest_fields import check_fields
from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import ManifestError
from piclassify.shared.files.atomic_file import folder_lock, write_atomically, write_set_atomically


def head_manifest(name: str, labels: tuple[str, ...], backbone: Backbone, fitted: FittedHead,
                  metrics: Mapping[str, Any], training: Mapping[str, Any], versions: Mapping[str, str]) -> Manifest:
    """The manifest of a model that is all head: it sees what the backbone sees and maps features to labels."""
    head_file = f"{name}.npz"
    digest = hashlib.sha256(fitted.data).hexdigest()
    if fitted.linear is not None:  # measured on the training photos themselves, each left out in turn
        metrics = {"cross_validated_accuracy": fitted.linear.cross_validated_accuracy, **metrics}
        training = {**training, "weight_decay": fitted.linear.l2}
    return Manifest(
        name=name, task="multiclass", labels=tuple(labels), height=backbone.size, width=backbone.size, channels=3,
        colour="rgb", polarity="any", scaling=backbone.scaling, resize=backbone.resize,
        input=TensorSpec(backbone.features.shape, "float32"), output=TensorSpec((len(labels),), "float32"),
        model_file=head_file, sha256=digest, metrics=dict(metrics), versions=dict(versions), training=dict(training),
        reject=head_reject(fitted),
        backbone=backbone, head=Head(file=head_file, sha256=digest, classifies=True, neighbours=fitted.neighbours),
    )


def head_reject(fitted: FittedHead) -> Reject:
    """The gate of a photo model (``shared.backbone.gate``): its similarity threshold and, when it knows its ImageNet
    classes, the least of the backbone's belief on them it needs and the share that is in view however it looks."""
    known = fitted.imagenet_classes is not None
    return Reject(min_similarity=round(fitted.min_similarity, 6), min_class_mass=fitted.min_class_mass,
                  sure_class_mass=SURE_CLASS_MASS if known else None)


def write_head_model(out_dir: Path, manifest: Manifest, fitted: FittedHead, backbone_source: Path) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` into ``out_dir`` (with the backbone, copied from ``backbone_source`` when
    ``out_dir`` lacks it); return the model path (the ``.npz``).

    Under a lock on the folder, so two writers of one name (two ``teach`` runs) leave the last one's model whole;
    the pair is checked as the device will load it before either is renamed into place, and on any failure the
    folder is left as it was: no head without its manifest, no backbone copied for nothing, no folder made for it.
    """
    out_dir = Path(out_dir)
    made = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    try:
        with folder_lock(out_dir):
            copied = _copy_backbone(out_dir, manifest, Path(backbone_source))
            model_path = out_dir / manifest.model_file
            write_set_atomically([(model_path, fitted.data),
                                  (model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))],
                                 lambda staged: check_head_model(staged[0], staged[1], manifest))
        return model_path
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        with suppress(OSError):
            if made and not any(out_dir.iterdir()):
                out_dir.rmdir()
        raise


def check_head_model(head_path: Path, manifest_path: Path, manifest: Manifest) -> None:
    """The written pair as loading it checks: the manifest's fields as read back, the head's arrays against them."""
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        check_fields(data, Manifest, SCHEMA_VERSION)
        Manifest.from_dict(data)
    except (ValueError, ManifestError) as exc:
        raise ManifestError(f"{manifest.name}: the manifest written would not load: {exc}") from None
    load_manifest_head(head_path, manifest)


def _copy_backbone(out_dir: Path, manifest: Manifest, source: Path) -> list[Path]:
    """The backbone (and its description) copied into ``out_dir`` when it is not there; the files copied."""
    backbone, _ = manifest.backbone_sections()
    target = out_dir / backbone.model_file
    copied = []
    if source.resolve() != target.resolve() and not target.exists():
        for origin, path in ((source, target), (description_path(source), out_dir / description_path(source).name)):
            if origin.is_file() and not path.exists():
                write_atomically(path, origin.read_bytes())
                copied.append(path)
    try:
        checked_file(out_dir, backbone.model_file, backbone.sha256, "backbone")
    except ManifestError as exc:
        raise ManifestError(f"{exc}; another backbone is already there, so {manifest.name} cannot be written "
                            "into this folder") from None
    return copied
