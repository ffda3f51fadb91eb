"""Writing a photo model that is a head on the backbone: the manifest, the ``.npz``, the backbone beside them.

The trainer's ``piclassify-train folder`` and the Pi's ``piclassify teach`` both end here, so the two
make the same kind of model. Every file is written to a temporary name and renamed into place, the
manifest last: an interrupted or failed write leaves the folder as it was, never half a model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from piclassify.shared.backbone.extractor import description_path
from piclassify.shared.backbone.head import SURE_CLASS_MASS, FittedHead
from piclassify.shared.contract.manifest import Backbone, Head, Manifest, TensorSpec, checked_file
from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import ManifestError
from piclassify.shared.files.atomic_file import write_atomically


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
    ``out_dir`` lacks it); return the model path (the ``.npz``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    backbone, _ = manifest.backbone_sections()
    target = out_dir / backbone.model_file
    if Path(backbone_source).resolve() != target.resolve():
        if not target.exists():
            write_atomically(target, Path(backbone_source).read_bytes())
            description = description_path(backbone_source)
            if description.is_file():
                write_atomically(out_dir / description.name, description.read_bytes())
    try:
        checked_file(out_dir, backbone.model_file, backbone.sha256, "backbone")
    except ManifestError as exc:
        raise ManifestError(f"{exc}; another backbone is already there, so {manifest.name} cannot be written "
                            "into this folder") from None
    model_path = out_dir / manifest.model_file
    write_atomically(model_path, fitted.data)
    write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    return model_path
