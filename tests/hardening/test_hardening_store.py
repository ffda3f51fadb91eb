"""The teach panel's example store as untrusted ground: whatever files, names and links are in its folder, it stays
bounded (in files and bytes), numbers its examples so that undo finds the newest, writes and deletes only in real
folders, and every failure is one line."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.teach import examples
from piclassify.device.teach.examples import EXAMPLE_SIDE, ExampleError, ExampleStore
from piclassify.shared.files.imagefile import read_image

PHONE = np.random.default_rng(0).integers(0, 255, (3024, 4032, 3), dtype=np.uint8)  # a 12 MP photo's pixels
PIXEL = np.zeros((48, 64, 3), np.uint8)


def jpeg_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_an_example_is_kept_at_the_size_a_fit_uses_not_the_size_it_came_in(tmp_path):
    """12 MP uploads were kept whole, 3.4-14 MB each: the store's 8,000 could take 112 GB."""
    store = ExampleStore(tmp_path)
    store.add("pets", PHONE)
    (kept,) = (tmp_path / "pets").iterdir()
    assert jpeg_size(kept) == (427, EXAMPLE_SIDE)  # 4032 x 3024 with its shorter side at 320
    assert kept.stat().st_size < 200_000 and store.size() == kept.stat().st_size
    store.add("pets", PIXEL)  # a small picture is kept as it is
    assert sorted(jpeg_size(path) for path in (tmp_path / "pets").iterdir()) == [(64, 48), (427, 320)]


def test_the_store_s_bytes_are_capped(tmp_path, monkeypatch):
    store = ExampleStore(tmp_path)
    store.add("pets", PHONE)
    monkeypatch.setattr(examples, "MAX_BYTES", store.size() + 100)
    with pytest.raises(ExampleError, match="all the store may; remove a class"):
        store.add("pets", PHONE)
    assert store.counts() == {"pets": 1}


def test_a_capture_that_fails_leaves_no_empty_class_behind(tmp_path, monkeypatch):
    """A full disk made the class folder, then failed to write in it: the empty class then blocked every fit."""
    from piclassify.device.teach import examples as module

    def full(path, data, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    store = ExampleStore(tmp_path)
    monkeypatch.setattr(module, "write_atomically", full)
    with pytest.raises(ExampleError, match="cannot keep the example: No space left on device"):
        store.add("pets", PIXEL)
    assert list(tmp_path.iterdir()) == [] and store.counts() == {}


def test_an_empty_class_is_left_out_of_the_fit_and_can_be_removed(tmp_path, capsys):
    folder = tmp_path / "examples"
    for name, prefix in (("pets", "catsdogs"), ("clothes", "fashion")):
        (folder / name).mkdir(parents=True)
        for photo in SAMPLES_DIR.glob(f"{prefix}-*.jpg"):
            (folder / name / photo.name).write_bytes(photo.read_bytes())
    (folder / "empty").mkdir()
    assert main(["teach", "things", "--from", str(folder), "--out", str(tmp_path / "models")]) == 0, \
        capsys.readouterr().err
    assert json.loads((tmp_path / "models" / "things.json").read_text())["labels"] == ["clothes", "pets"]
    store = ExampleStore(folder)
    assert store.counts()["empty"] == 0
    store.remove("empty")
    assert not (folder / "empty").exists() and set(store.counts()) == {"clothes", "pets"}


def test_a_file_named_like_the_last_number_cannot_hide_the_examples_after_it(tmp_path, monkeypatch):
    """``99999999.jpg`` in a class folder: the next number had nine digits, and the store saw none of them (605 files,
    the panel showed 0, and the cap did not hold)."""
    monkeypatch.setattr(examples, "MAX_PER_CLASS", 4)
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets" / "99999999.jpg").write_bytes(b"planted")
    store = ExampleStore(tmp_path)
    assert store.add("pets", PIXEL) == 2 and store.add("cats", PIXEL) == 1
    assert store.counts() == {"cats": 1, "pets": 2}
    (tmp_path / "pets" / "notes.txt").write_bytes(b"a file the store did not write counts all the same")
    assert store.add("pets", PIXEL) == 4
    with pytest.raises(ExampleError, match="at most 4 examples a class"):
        store.add("pets", PIXEL)
    assert store.undo() == "pets" and store.undo() == "cats"  # the newest first, the planted one last
    assert store.counts() == {"pets": 3}


def test_a_class_folder_that_is_a_symlink_is_neither_written_into_nor_emptied(tmp_path):
    """The store refuses symlinks, as the results log does: captures went into the link's target, and Undo deleted
    files there."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "00000001.jpg").write_bytes(b"someone else's")
    root = tmp_path / "examples"
    root.mkdir()
    (root / "pets").symlink_to(elsewhere)
    store = ExampleStore(root)
    with pytest.raises(ExampleError, match="not a folder but a symlink"):
        store.add("pets", PIXEL)
    assert store.counts() == {} and store.undo() is None
    with pytest.raises(ExampleError, match="not a folder but a symlink"):
        store.remove("pets")
    store.add("cats", PIXEL)
    (root / "cats" / "00000009.jpg").symlink_to(elsewhere / "00000001.jpg")  # a link as an example: not one
    assert store.counts() == {"cats": 1} and store.undo() == "cats"
    assert sorted(os.listdir(elsewhere)) == ["00000001.jpg"] and (root / "cats" / "00000009.jpg").is_symlink()


def test_undo_on_a_store_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    store = ExampleStore(tmp_path)
    store.add("pets", PIXEL)

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "unlink", read_only)
    with pytest.raises(ExampleError, match="00000001.jpg: cannot remove it: Read-only file system"):
        store.undo()
    with pytest.raises(ExampleError, match="cannot remove the class: Read-only file system"):
        store.remove("pets")


def test_examples_round_trip_as_photos(tmp_path):
    store = ExampleStore(tmp_path)
    store.add("pets", read_image(SAMPLES_DIR / "catsdogs-1-cat.jpg"))
    (kept,) = (tmp_path / "pets").iterdir()
    assert min(read_image(kept).shape[:2]) <= EXAMPLE_SIDE and io.BytesIO(kept.read_bytes()).read(2) == b"\xff\xd8"
