"""Shared fixtures: where the real datasets are, and a tiny real model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["PICLASSIFY_OFFLINE"] = "1"  # tests never download data or weights

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(os.environ.get("PICLASSIFY_DATA", REPO.parent / "shared" / "datasets"))


def require_dataset(*parts: str) -> Path:
    """The dataset folder under ../shared/datasets; skip on a user's clone without it, fail under CI=true."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        message = f"{path} not found (the team's real datasets live in ../shared/datasets)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return require_dataset("mnist")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    return require_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def mnist_test(mnist_dir: Path):
    """(images, labels) of the real MNIST test set."""
    from piclassify.trainer.idx import read_idx

    return read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz"), read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
