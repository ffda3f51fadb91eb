"""Real photos of clothes for the fashion model: ``clothing-photos/<split>/<class>/*.jpg``, framed by the device's code.

Fashion-MNIST alone reads real photos badly: its items are product shots on white, a phone photo is
a garment on a bed, a floor or a hanger. The fashion recipe therefore also trains on the real photos
of the classes that have a Fashion-MNIST counterpart, framed by ``shared.garment`` exactly as the
device frames a camera frame, each photo several times with photo-like jitter (crop, white
balance, exposure, gamma), and measures the exported model on the validation photos through
``Classifier.classify_photo``, the Pi's own path: ``metrics.real_photos`` in the manifest.

Class folders and what they are in Fashion-MNIST (shoes, shorts, hat and skirt have no single class
and are not used):

    t-shirt -> T-shirt/top, pants -> Trouser, dress -> Dress, shirt -> Shirt        exact
    longsleeve -> Pullover, outwear -> Coat                                         approximate
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from piclassify.shared.classifier import Classifier
from piclassify.shared.errors import ImageError
from piclassify.shared.garment import frame_garment
from piclassify.shared.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.manifest import Manifest
from piclassify.trainer.datasets import candidate_dirs
from piclassify.trainer.errors import DatasetError
from piclassify.trainer.publish import record_metrics

FOLDER = "clothing-photos"
MAPPED = {  # photo folder -> (Fashion-MNIST label, how well the two match)
    "t-shirt": ("T-shirt/top", "exact"),
    "pants": ("Trouser", "exact"),
    "dress": ("Dress", "exact"),
    "shirt": ("Shirt", "exact"),
    "longsleeve": ("Pullover", "approximate"),
    "outwear": ("Coat", "approximate"),
}
VARIANTS = 4  # framings per training photo: the photo itself and three jittered copies


@dataclass(frozen=True)
class FramedPhotos:
    images: np.ndarray  # (N, size, size) uint8, as the model's input
    labels: np.ndarray  # (N,) int64 indices into the model's labels
    photos: int  # photos read
    unframed: int  # framings that found no garment (left out)
    seconds: float


def find_photos(photos: Optional[Path], data_dir: Optional[Path]) -> Optional[Path]:
    """``photos`` when given (it must hold ``train/``), else the first ``clothing-photos`` folder with a
    ``train/`` among the places datasets are searched (``--data-dir``, ``$PICLASSIFY_DATA``, ...); or None."""
    if photos is not None:
        if not (Path(photos) / "train").is_dir():
            raise DatasetError(f"{photos}: expected real clothing photos in train/<class>/ (and validation/<class>/)")
        return Path(photos)
    for directory in candidate_dirs(FOLDER, data_dir):
        if directory.name == FOLDER and (directory / "train").is_dir():
            return directory
    return None


def photo_files(root: Path, split: str) -> list[tuple[Path, str]]:
    """(path, class folder) of every image of the mapped classes in ``root/split``, in a fixed order."""
    files = []
    for folder in MAPPED:
        directory = Path(root) / split / folder
        if not directory.is_dir():
            raise DatasetError(f"{directory}: missing (the fashion recipe reads {', '.join(MAPPED)})")
        files += [(path, folder) for path in sorted(directory.iterdir())
                  if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES]
    return files


def jitter_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another shot of the same garment: cropped closer or off-centre, other white balance, exposure, gamma."""
    h, w = image.shape[:2]
    crop_w, crop_h = int(w * rng.uniform(0.85, 1.0)), int(h * rng.uniform(0.85, 1.0))
    x0, y0 = int(rng.integers(0, w - crop_w + 1)), int(rng.integers(0, h - crop_h + 1))
    shot = image[y0:y0 + crop_h, x0:x0 + crop_w].astype(np.float32)
    shot = shot * (rng.uniform(0.8, 1.2, 3) * rng.uniform(0.8, 1.2)).astype(np.float32) + rng.uniform(-20, 20)
    shot = 255.0 * (np.clip(shot, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
    return np.clip(shot, 0, 255).astype(np.uint8)


def frame_training_photos(root: Path, labels: Sequence[str], size: int = 28, variants: int = VARIANTS,
                          seed: int = 1, log: Callable[[str], None] = print) -> FramedPhotos:
    """Every training photo of the mapped classes, framed ``variants`` times (the first as it is)."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    files = photo_files(root, "train")
    images, targets, unframed = [], [], 0
    for path, folder in files:
        try:
            photo = read_image(path)
        except ImageError as exc:
            log(f"skipping {exc}")
            continue
        for variant in range(variants):
            framed = frame_garment(photo if variant == 0 else jitter_photo(photo, rng), size).image
            if framed is None:
                unframed += 1
                continue
            images.append(framed)
            targets.append(labels.index(MAPPED[folder][0]))
    seconds = time.monotonic() - started
    log(f"{root / 'train'}: {len(files)} photos of {len(MAPPED)} classes framed {variants}x as garments in "
        f"{seconds:.0f} s ({unframed} framings found no garment)")
    if not images:
        raise DatasetError(f"{root / 'train'}: no photo framed as a garment")
    return FramedPhotos(np.stack(images), np.asarray(targets, dtype=np.int64), len(files), unframed, seconds)


def real_photo_accuracy(classifier: Classifier, root: Path, split: str = "validation") -> dict:
    """Per mapped class and for the exact classes together: the share of ``root/split`` photos named
    right by ``classifier.classify_photo`` (the device's framing and model); "nothing in view" is wrong."""
    per_class = {}
    everything = photo_files(root, split)
    for folder, (label, match) in MAPPED.items():
        files = [path for path, name in everything if name == folder]
        answers = [classifier.classify_photo(read_image(path)).prediction for path in files]
        right = sum(answer is not None and answer.label == label for answer in answers)
        per_class[folder] = {"label": label, "match": match, "photos": len(files), "right": right,
                             "nothing_in_view": sum(answer is None for answer in answers),
                             "accuracy": round(right / len(files), 5) if files else 0.0}
    exact = [per_class[folder] for folder, (_, match) in MAPPED.items() if match == "exact"]
    exact_photos = sum(entry["photos"] for entry in exact)
    exact_right = sum(entry["right"] for entry in exact)
    return {"test_set": f"{FOLDER} {split}", "exact_photos": exact_photos,
            "exact_accuracy": round(exact_right / exact_photos, 5) if exact_photos else 0.0, "classes": per_class}


def measure_and_record_photos(model_path: Path, root: Path, split: str = "validation",
                              log: Callable[[str], None] = print) -> Manifest:
    """``real_photo_accuracy`` of the exported model, logged and stored as ``metrics.real_photos``."""
    classifier = Classifier.load(model_path)
    measured = real_photo_accuracy(classifier, root, split)
    log(f"real photos ({measured['test_set']}, device framing and int8 model):")
    for folder, entry in measured["classes"].items():
        log(f"  {folder:>10} -> {entry['label']:<12} {100 * entry['accuracy']:6.2f}%  "
            f"({entry['right']}/{entry['photos']}, {entry['match']}, {entry['nothing_in_view']} nothing in view)")
    log(f"  exact classes: {100 * measured['exact_accuracy']:.2f}% of {measured['exact_photos']} photos")
    return record_metrics(model_path, classifier.manifest, {"real_photos": measured})


def add_real_photos(x_train: np.ndarray, y_train: np.ndarray, labels: Sequence[str], photos: Optional[Path],
                    data_dir: Optional[Path], seed: int = 1,
                    log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray, Optional[Path], dict]:
    """Fashion-MNIST's training images plus the framed real photos, when a ``clothing-photos`` folder is
    found; returns the images, labels, the folder (None when none) and what to record under ``training``."""
    root = find_photos(photos, data_dir)
    if root is None:
        log(f"no {FOLDER}/train found (pass --photos): training on Fashion-MNIST alone, which reads real photos badly")
        return x_train, y_train, None, {}
    framed = frame_training_photos(root, labels, size=x_train.shape[1], seed=seed, log=log)
    info = {"real_photos": str(root / "train"), "real_photo_count": framed.photos,
            "real_photo_images": int(len(framed.images)), "real_photo_framing_seconds": round(framed.seconds, 1)}
    return (np.concatenate([x_train, framed.images]), np.concatenate([y_train, framed.labels]), root, info)
