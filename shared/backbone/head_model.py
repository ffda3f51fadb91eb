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
from typing import Any, Mapping, Optional

from piclassify.shared.backbone.extractor import description_path
from piclassify.shared.backbone.head import SURE_CLASS_MASS, FittedHead
from piclassify.shared.backbone.head_file import load_manifest_head
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import SCHEMA_VERSION, Backbone, Head, Manifest, TensorSpec
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
    """The backbone ``source`` (and its description) beside the models in ``folder`` (``copy_backbone``)."""
    copy_backbone(Path(source), Path(folder))
    return Path(folder) / Path(source).name


def copy_backbone(source: Path, folder: Path) -> list[Path]:
    """Copy the backbone ``source`` and its description into ``folder`` when it has none, keep them when it has the
    same bytes; a different one there is refused in one line (``backbone_in_the_way``). The files copied."""
    problem = backbone_in_the_way(source, folder)
    if problem is not None:
        raise ManifestError(f"{problem}: write the model into another folder (--out DIR)")
    copied = []
    for original in (source, description_path(source)):
        copy = folder / original.name
        if original.is_file() and not copy.exists() and copy.resolve() != original.resolve():
            write_atomically(copy, original.read_bytes())
            copied.append(copy)
    return copied


def write_head_model(out_dir: Path, manifest: Manifest, fitted: FittedHead, backbone_source: Path) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` into ``out_dir`` (with the backbone, copied from ``backbone_source`` when
    ``out_dir`` lacks it: ``copy_backbone``); return the model path (the ``.npz``).

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
            copied = copy_backbone(Path(backbone_source), out_dir)
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
