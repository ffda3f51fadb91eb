"""The one safe write: whole or not at all, never through a symlink, modes as the umask allows."""

from __future__ import annotations

import os
import stat

import pytest

from piclassify.shared.files import atomic_file
from piclassify.shared.files.atomic_file import write_atomically


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_the_mode_is_the_asked_one_less_the_umask(tmp_path, umask_027):
    write_atomically(tmp_path / "model.json", b"x")
    write_atomically(tmp_path / "token", b"x", 0o600)
    assert stat.S_IMODE((tmp_path / "model.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600


def test_an_exact_mode_ignores_the_umask(tmp_path, umask_027):
    write_atomically(tmp_path / "piclassify.service", b"x", 0o644, exact_mode=True)
    assert stat.S_IMODE((tmp_path / "piclassify.service").stat().st_mode) == 0o644


def test_a_symlink_at_the_final_name_is_replaced_not_written_through(tmp_path):
    precious = tmp_path / "precious"
    precious.write_bytes(b"do not touch")
    (tmp_path / "out.png").symlink_to(precious)
    write_atomically(tmp_path / "out.png", b"png")
    assert precious.read_bytes() == b"do not touch"
    assert not (tmp_path / "out.png").is_symlink() and (tmp_path / "out.png").read_bytes() == b"png"


def test_a_named_temporary_left_by_a_power_cut_is_reused_but_a_planted_symlink_refused(tmp_path):
    path, partial = tmp_path / "frame.jpg", tmp_path / "frame.part"
    partial.write_bytes(b"cut short")
    write_atomically(path, b"jpeg", temporary=partial)
    assert path.read_bytes() == b"jpeg" and not partial.exists()
    precious = tmp_path / "precious"
    precious.write_bytes(b"do not touch")
    partial.symlink_to(precious)
    with pytest.raises(FileExistsError):
        write_atomically(path, b"jpeg 2", temporary=partial)
    assert precious.read_bytes() == b"do not touch" and path.read_bytes() == b"jpeg"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_bytes(b"old")

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_the_file_and_its_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(atomic_file.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}"))
                        or real_fsync(fd))
    write_atomically(tmp_path / "model.json", b"x")
    assert len(synced) == 2 and synced[1] == str(tmp_path)
