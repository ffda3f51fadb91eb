"""Saved frames: JPEGs named by time, frame and label, in a folder bounded to the newest ``max_count``."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from piclassify.device.config import FramesConfig
from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.frames_store import FrameStore

from conftest import make_frame, make_result


def frames_store(tmp_path: Path, **options) -> FrameStore:
    return FrameStore(FramesConfig(path=tmp_path / "frames", **options))


def saved(store: FrameStore, index: int, label: str = "cat", uncertain: bool = False) -> list[Path]:
    """Hand the store one result; return the files it wrote."""
    before = set(store.folder.iterdir())
    store.handle(Delivery(make_result(label, 0.9), make_frame(index), uncertain))
    return sorted(set(store.folder.iterdir()) - before)


def test_saved_frames_are_jpegs_named_by_time_frame_and_label(tmp_path):
    store = frames_store(tmp_path, save="all")
    [path] = saved(store, 5, "ankle boot")
    assert path.name == "20231114T221325.000000Z-00000005-ankle_boot.jpg"
    with Image.open(path) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))


def test_uncertain_saves_only_results_the_loop_found_uncertain(tmp_path):
    store = frames_store(tmp_path, save="uncertain")
    assert saved(store, 1, uncertain=False) == []
    assert len(saved(store, 2, uncertain=True)) == 1


def test_the_frames_folder_keeps_only_the_newest_max_count(tmp_path):
    store = frames_store(tmp_path, save="all", max_count=3)
    written = [path for index in range(5) for path in saved(store, index)]
    assert sorted((tmp_path / "frames").glob("*.jpg")) == written[2:]


def test_the_bound_counts_frames_from_earlier_runs_and_drops_partial_files(tmp_path):
    first = frames_store(tmp_path, save="all", max_count=3)
    old = [path for index in range(3) for path in saved(first, index)]
    (tmp_path / "frames" / "20231114T221399.000000Z-00000009-cat.part").write_bytes(b"cut by power loss")
    second = frames_store(tmp_path, save="all", max_count=3)
    new = saved(second, 7, "dog")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == sorted(p.name for p in old[1:] + new)


def test_the_frames_folder_never_deletes_files_it_did_not_write(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    mine = [folder / name for name in ("holiday.jpg", "IMG_0001.jpg", "notes.part")]
    for path in mine:
        path.write_bytes(b"the user's own")
    store = frames_store(tmp_path, save="all", max_count=1)
    for index in range(3):
        saved(store, index)
    assert all(path.read_bytes() == b"the user's own" for path in mine)
    assert len(list(folder.iterdir())) == len(mine) + 1
