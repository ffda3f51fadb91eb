"""Writing a photo model that is a head on the backbone: the manifest, the ``.npz``, the backbone beside them.

The trainer's ``piclassify-train folder`` and the Pi's ``piclassify teach`` both end here, so the two
make the same kind of model. Every file is written to a temporary name and renamed into place, the
manifest last: an interrupted or failed write leaves the folder as it was, never half a model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping, Optional

from piclassify.shared.backbone.extractor import description_path
from piclassify.shared.backbone.head import SURE_CLASS_MASS, FittedHead
from piclassify.shared.contract.manifest import Backbone, Head, Manifest, TensorSpec, sha256_of
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


def backbone_in_the_way(source: Path, folder: Path) -> Optional[str]:
    """Why ``source`` cannot go beside the models in ``folder``: another backbone of its name is there (the models
    there name theirs by sha256, so it is never replaced); None when the folder has none, or the same bytes."""
    source, target = Path(source), Path(folder) / Path(source).name
    if not target.is_file() or target.resolve() == source.resolve():
        return None
    theirs, ours = sha256_of(target), sha256_of(source)
    if theirs == ours:
        return None
    return (f"{target}: another backbone is there (sha256 {theirs[:12]}…, not {ours[:12]}… of {source}), and the "
            "models beside it may need it; it is never replaced")


def place_backbone(source: Path, folder: Path) -> Path:
    """The backbone ``source`` (and its description) beside the models in ``folder``: copied when the folder has none,
    kept when it has the same bytes; a different one there is refused in one line (``backbone_in_the_way``)."""
    source, folder = Path(source), Path(folder)
    problem = backbone_in_the_way(source, folder)
    if problem is not None:
        raise ManifestError(f"{problem}: write the model into another folder (--out DIR)")
    for original in (source, description_path(source)):
        copy = folder / original.name
        if original.is_file() and not copy.exists() and copy.resolve() != original.resolve():
            write_atomically(copy, original.read_bytes())
    return folder / source.name


def write_head_model(out_dir: Path, manifest: Manifest, fitted: FittedHead, backbone_source: Path) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` into ``out_dir`` (with the backbone, copied from ``backbone_source`` when
    ``out_dir`` lacks it: ``place_backbone``); return the model path (the ``.npz``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    place_backbone(backbone_source, out_dir)
    model_path = out_dir / manifest.model_file
    write_atomically(model_path, fitted.data)
    write_atomically(model_path.with_suffix(".json"), manifest.to_json().encode("utf-8"))
    return model_path
