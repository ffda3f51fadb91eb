"""Find and load MNIST and Fashion-MNIST the way a user's machine has them.

Search order (the first folder holding all four IDX files wins): ``--data-dir``, the
``PICLASSIFY_DATA`` environment variable, Debian's ``/usr/share/datasets/<name>``, the Keras
cache ``~/.keras/datasets``; only then a Keras download, and only when the machine is online.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import DatasetError
from piclassify.trainer.data.idx import read_idx

ENV_VAR = "PICLASSIFY_DATA"
OFFLINE_VAR = "PICLASSIFY_OFFLINE"  # set (as tests do) to never download
DEBIAN_ROOT = Path("/usr/share/datasets")
KERAS_CACHE = Path.home() / ".keras" / "datasets"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image dataset split into train and test, uint8 images of shape (N, H, W)."""

    name: str
    labels: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


@dataclass(frozen=True)
class IdxDatasetInfo:
    folder: str
    labels: tuple[str, ...]
    polarity: str
    keras_loader: str
    resize: str  # how a camera photo is framed like this dataset's images (see shared.framing.model_input)
    default_arch: str
    default_epochs: int
    reject: Reject  # when a camera photo shows nothing to classify (see shared.contract.manifest.Reject)


# digits: the ImageNet backbone says whether a frame shows writing on paper at all (trainer.recipes.camera_head), so the
# framing only has to find the digit and keep specks and sensor noise out. It used to do more (an object had to
# stand out by 30 grey levels on average and span 6% of the frame, to turn away textures) and then read thin or
# light pen strokes as texture: 9.0% of 400 digits written on paper answered "nothing", 2.5% now; empty scenes
# 100% either way (measured with trainer.data.photos.render_on_paper; the trainer records the rates).
DATASETS = {
    "digits": IdxDatasetInfo("mnist", tuple(str(d) for d in range(10)), "light-on-dark", "mnist", "object", "cnn", 12,
                             Reject(min_separation=10, min_size=0.02, border_is_background=True)),
    "fashion": IdxDatasetInfo(
        "fashion-mnist",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "light-on-dark",
        "fashion_mnist",
        "garment",  # real clothes cut out of any background by colour (shared.framing.garment)
        "cnn-flat",
        10,
        # garment outlines step by 18 Lab units and more (rendered items 20), what GrabCut finds in an empty
        # scene (a lamp's glow, wood grain) by 12 at most: measured on 439 real photos and 160 scenes
        Reject(min_separation=14, min_size=0.06),
    ),
}


def candidate_dirs(folder: str, data_dir: Path | None) -> list[Path]:
    """Every folder searched for ``folder``'s IDX files, in order."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]))
    roots += [DEBIAN_ROOT, KERAS_CACHE]
    found: list[Path] = []
    for root in roots:
        found += [root / folder, root]
    return found


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_idx_folder(directory: Path) -> dict[str, np.ndarray] | None:
    """The four arrays from a folder of IDX files, or None if any file is missing."""
    paths = {key: _find_idx(directory, stem) for key, stem in IDX_FILES.items()}
    if any(p is None for p in paths.values()):
        return None
    return {key: read_idx(path) for key, path in paths.items()}


def is_online(host: str = "storage.googleapis.com", timeout: float = 2.0) -> bool:
    """True when the Keras download host answers and downloads are not switched off; never raises."""
    if os.environ.get(OFFLINE_VAR):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _keras_download(loader: str) -> dict[str, np.ndarray]:
    import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, loader).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_dataset(name: str, data_dir: Path | None = None,
                 download: Callable[[str], dict[str, np.ndarray]] | None = _keras_download,
                 online: Callable[[], bool] = is_online) -> ImageDataset:
    """Load ``digits`` (MNIST) or ``fashion`` (Fashion-MNIST); raise ``DatasetError`` naming every place searched."""
    info = DATASETS[name]
    searched = candidate_dirs(info.folder, data_dir)
    for directory in searched:
        arrays = load_idx_folder(directory)
        if arrays is not None:
            return _dataset(name, info, arrays, str(directory))
    if info.folder == "mnist" and (KERAS_CACHE / "mnist.npz").is_file():
        with np.load(KERAS_CACHE / "mnist.npz") as npz:
            return _dataset(name, info, {k: npz[k] for k in IDX_FILES}, str(KERAS_CACHE / "mnist.npz"))
    if download is not None and online():
        return _dataset(name, info, download(info.keras_loader), "keras download")
    places = ", ".join(str(d) for d in dict.fromkeys(searched))
    raise DatasetError(f"{info.folder} not found (searched {places}; offline, so no download); "
                       f"pass --data-dir or set {ENV_VAR}")


def _dataset(name: str, info: IdxDatasetInfo, arrays: dict[str, np.ndarray], source: str) -> ImageDataset:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or len(x) != len(y):
            raise DatasetError(f"{source}: {split} images {x.shape} and labels {y.shape} do not fit together")
    return ImageDataset(name, info.labels, arrays["x_train"].astype(np.uint8), arrays["y_train"].astype(np.int64),
                        arrays["x_test"].astype(np.uint8), arrays["y_test"].astype(np.int64), source)
