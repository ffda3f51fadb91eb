"""Real photos of clothes for the fashion model: ``clothing-photos/<split>/<class>/*.jpg``, framed by the device's code.

Fashion-MNIST alone reads real photos badly: its items are product shots on white, a phone photo is
a garment on a bed, a floor or a hanger. The fashion recipe therefore also trains on the real photos
of the classes that have a Fashion-MNIST counterpart, framed by ``shared.framing.garment`` exactly as the
device frames a camera frame, each photo several times with photo-like jitter (crop, white
balance, exposure, gamma), and on some Fashion-MNIST items rendered as the demo's camera photos
(``trainer.data.photos``) and framed the same way. It measures the exported model on the validation
photos through ``Classifier.classify_photo``, the Pi's own path: ``metrics.real_photos``.

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

import cv2
import numpy as np

from piclassify.shared.backbone.photo_head import jitter_photo
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES, read_image
from piclassify.shared.framing.garment import frame_garment
from piclassify.trainer.data.datasets import candidate_dirs
from piclassify.trainer.data.parallel import map_on_cores
from piclassify.trainer.data.photos import SAMPLE_SIZE, render_photo
from piclassify.trainer.publish import data_name, record_metrics

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
RENDERED_ITEMS = 6000  # Fashion-MNIST training items also rendered as the demo's camera photos


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


def _frame_photo(job: tuple[Path, int, int, int, int]) -> tuple[list[Optional[np.ndarray]], Optional[str]]:
    """One training photo framed ``variants`` times (the first as it is), or why it cannot be read."""
    path, size, variants, seed, number = job
    try:
        photo = read_image(path)
    except ImageError as exc:
        return [], str(exc)
    rng = np.random.default_rng([seed, number])  # per photo: the same framings on any number of cores
    return [frame_garment(photo if variant == 0 else jitter_photo(photo, rng), size).image
            for variant in range(variants)], None


def frame_training_photos(root: Path, labels: Sequence[str], size: int = 28, variants: int = VARIANTS,
                          seed: int = 1, log: Callable[[str], None] = print) -> FramedPhotos:
    """Every training photo of the mapped classes, framed ``variants`` times (the first as it is), on every core."""
    started = time.monotonic()
    files = photo_files(root, "train")
    framings = map_on_cores(_frame_photo, [(path, size, variants, seed, n) for n, (path, _) in enumerate(files)], 4)
    images, targets, unframed = [], [], 0
    for (_, folder), (framed, error) in zip(files, framings):
        if error:
            log(f"skipping {error}")
        for image in framed:
            if image is None:
                unframed += 1
                continue
            images.append(image)
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


def _render_and_frame(job: tuple[np.ndarray, int, int, int]) -> Optional[np.ndarray]:
    item, size, seed, number = job
    rng = np.random.default_rng([seed, number])  # per item: the same photos on any number of cores
    photo = cv2.resize(render_photo(item, rng), SAMPLE_SIZE, interpolation=cv2.INTER_AREA)
    return frame_garment(photo, size).image


def rendered_items(images: np.ndarray, labels: np.ndarray, count: int = RENDERED_ITEMS, size: int = 28,
                   seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``count`` training items drawn at random, rendered as the demo's camera photos (dark on unevenly lit
    paper, 640x480 shrunk to 320x240) and framed as garments: the device reads those photos too."""
    chosen = np.random.default_rng(seed).permutation(len(images))[:count]
    framed = map_on_cores(_render_and_frame, [(images[index], size, seed, int(index)) for index in chosen])
    kept = [n for n, item in enumerate(framed) if item is not None]
    return np.stack([framed[n] for n in kept]), np.asarray(labels[chosen[kept]], dtype=np.int64)


def add_camera_photos(x_train: np.ndarray, y_train: np.ndarray, labels: Sequence[str], photos: Optional[Path],
                      data_dir: Optional[Path], seed: int = 1,
                      log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray, Optional[Path], dict]:
    """Fashion-MNIST's training images, plus some of them rendered as camera photos, plus the real photos
    when a ``clothing-photos`` folder is found, all framed as garments; returns
    the images, labels, the photo folder (None when none) and what to record under ``training``."""
    started = time.monotonic()
    x_rendered, y_rendered = rendered_items(x_train, y_train, min(RENDERED_ITEMS, len(x_train)), x_train.shape[1], seed)
    log(f"{len(x_rendered)} training items rendered as camera photos and framed in {time.monotonic() - started:.0f} s")
    info = {"rendered_items": int(len(x_rendered))}
    root = find_photos(photos, data_dir)
    if root is None:
        log(f"no {FOLDER}/train found (pass --photos): no real photos, so real photos will be read less well")
        return np.concatenate([x_train, x_rendered]), np.concatenate([y_train, y_rendered]), None, info
    framed = frame_training_photos(root, labels, size=x_train.shape[1], seed=seed, log=log)
    info.update({"real_photos": data_name(root / "train", 2), "real_photo_count": framed.photos,
                 "real_photo_images": int(len(framed.images)),
                 "real_photo_framing_seconds": round(framed.seconds, 1)})
    return (np.concatenate([x_train, x_rendered, framed.images]),
            np.concatenate([y_train, y_rendered, framed.labels]), root, info)
