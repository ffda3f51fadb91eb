"""IDX files and where the trainer looks for MNIST-style data, on tiny files these tests write."""

import gzip
import struct

import numpy as np
import pytest

from piclassify.shared.errors import DatasetError
from piclassify.trainer.data import datasets
from piclassify.trainer.data.idx import read_idx


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def write_mnist_folder(folder, n_train=6, n_test=4, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, compress)
    return folder


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_gzipped_and_raw(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_refuses_bad_magic_and_truncated_data(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(DatasetError, match="expected 10 data bytes"):
        read_idx(short)


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Point Debian's and Keras' folders somewhere empty, and clear the environment variable."""
    monkeypatch.setattr(datasets, "DEBIAN_ROOT", tmp_path / "debian")
    monkeypatch.setattr(datasets, "KERAS_CACHE", tmp_path / "keras")
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


def test_data_dir_holding_the_files_or_their_folder_is_found(tmp_path, no_system_data):
    write_mnist_folder(tmp_path / "data" / "mnist")
    loaded = datasets.load_dataset("digits", tmp_path / "data", download=None)
    assert loaded.x_train.shape == (6, 28, 28) and loaded.y_test.tolist() == [0, 1, 2, 3]
    assert loaded.source == str(tmp_path / "data" / "mnist")
    direct = datasets.load_dataset("digits", tmp_path / "data" / "mnist", download=None)
    assert direct.source == loaded.source


def test_data_dir_comes_before_the_environment_variable(tmp_path, monkeypatch, no_system_data):
    write_mnist_folder(tmp_path / "first" / "mnist", n_train=3)
    write_mnist_folder(tmp_path / "second" / "mnist", n_train=5, compress=False)
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "second"))
    assert len(datasets.load_dataset("digits", tmp_path / "first", download=None).x_train) == 3
    assert len(datasets.load_dataset("digits", None, download=None).x_train) == 5


def test_debian_and_keras_locations_are_searched(tmp_path, no_system_data):
    write_mnist_folder(tmp_path / "debian" / "fashion-mnist")
    assert datasets.load_dataset("fashion", download=None).source == str(tmp_path / "debian" / "fashion-mnist")
    write_mnist_folder(tmp_path / "keras" / "mnist")
    assert datasets.load_dataset("digits", download=None).source == str(tmp_path / "keras" / "mnist")


def test_nothing_found_offline_names_every_place_and_never_downloads(tmp_path, no_system_data):
    def download(loader):
        raise AssertionError("must not download when offline")

    with pytest.raises(DatasetError) as error:
        datasets.load_dataset("digits", tmp_path / "nowhere", download=download, online=lambda: False)
    message = str(error.value)
    assert "nowhere" in message and "debian" in message and "keras" in message and "PICLASSIFY_DATA" in message


def test_online_falls_back_to_the_keras_download(tmp_path, no_system_data):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (2, 28, 28)), "y_train": np.array([1, 2]),
              "x_test": rng.integers(0, 256, (1, 28, 28)), "y_test": np.array([3])}
    asked = []
    loaded = datasets.load_dataset("digits", download=lambda loader: asked.append(loader) or arrays, online=lambda: True)
    assert asked == ["mnist"]  # keras.datasets.mnist, once
    assert loaded.source == "keras download" and loaded.y_test.tolist() == [3]
