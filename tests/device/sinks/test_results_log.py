"""Results on disk: whole fsynced JSON lines, rotation, torn lines set aside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from piclassify.device.core.sink import Delivery
from piclassify.device.sinks import results_log as results_module
from piclassify.device.sinks.results_log import ResultLog, ResultLogError

from conftest import make_frame, make_result


def lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def test_each_result_handed_over_is_one_line_in_the_result_schema(tmp_path):
    log = ResultLog(tmp_path / "results.jsonl", max_bytes=1 << 20, keep=2, log_nothing=True)
    result = make_result("7", 0.912345, labels="0123456789", source="picamera2", frame=3, time=1_700_000_003.0)
    log.handle(Delivery(result, make_frame(3)))
    log.handle(Delivery(make_result(None, frame=4), make_frame(4)))
    log.close()
    first, nothing = lines(tmp_path / "results.jsonl")
    assert first == result.record()
    assert first["time"] == "2023-11-14T22:13:23.000+00:00" and first["score"] == 0.9123
    assert (nothing["label"], nothing["score"], nothing["reason"]) == (None, None, "no object with enough contrast")


def test_each_record_is_one_json_line_written_whole_and_fsynced(tmp_path, monkeypatch):
    calls = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(results_module.os, "write", lambda fd, data: calls.append(("write", data)) or real_write(fd, data))
    monkeypatch.setattr(results_module.os, "fsync", lambda fd: calls.append(("fsync",)) or real_fsync(fd))
    log = ResultLog(tmp_path / "results.jsonl", max_bytes=1 << 20, keep=2)
    log.append(json.dumps({"label": "cat", "note": "two\nlines"}))
    log.append(json.dumps({"label": "dog"}))
    log.close()
    assert [call[0] for call in calls] == ["write", "fsync", "write", "fsync"]
    assert calls[0][1].count(b"\n") == 1 and calls[0][1].endswith(b"\n")
    assert lines(tmp_path / "results.jsonl") == [{"label": "cat", "note": "two\nlines"}, {"label": "dog"}]


def test_a_restart_appends_to_the_same_file(tmp_path):
    for label in ("a", "b"):
        log = ResultLog(tmp_path / "results.jsonl", max_bytes=1 << 20, keep=2)
        log.append(json.dumps({"label": label}))
        log.close()
    assert lines(tmp_path / "results.jsonl") == [{"label": "a"}, {"label": "b"}]


def test_rotation_keeps_the_newest_files_up_to_keep(tmp_path):
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, max_bytes=1024, keep=2)
    padding = "x" * 300
    for number in range(12):
        log.append(json.dumps({"n": number, "pad": padding}))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl", "results.jsonl.1", "results.jsonl.2"]
    assert all(p.stat().st_size <= 1024 for p in tmp_path.iterdir())
    numbers = [record["n"] for name in ("results.jsonl.2", "results.jsonl.1", "results.jsonl")
               for record in lines(tmp_path / name)]
    assert numbers == list(range(3, 12))  # 3 records (321 bytes each) a file; the oldest file, 0 to 2, dropped


def test_keep_zero_starts_a_fresh_file_instead_of_rotating(tmp_path):
    log = ResultLog(tmp_path / "results.jsonl", max_bytes=1024, keep=0)
    for number in range(5):
        log.append(json.dumps({"n": number, "pad": "x" * 300}))
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["results.jsonl"]
    assert [record["n"] for record in lines(tmp_path / "results.jsonl")] == [3, 4]  # 0 to 2 filled the first file


def test_a_torn_last_line_is_set_aside_and_the_log_cut_to_whole_lines(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"n":1}\n{"n":2}\n{"n":3,"lab')
    log = ResultLog(path, max_bytes=1 << 20, keep=2)
    log.append(json.dumps({"n": 4}))
    log.close()
    assert lines(path) == [{"n": 1}, {"n": 2}, {"n": 4}]
    assert log.torn_path is not None and log.torn_path.name.startswith("results.jsonl.torn-")
    assert log.torn_path.read_bytes() == b'{"n":3,"lab'


def test_a_file_that_is_all_torn_line_is_emptied_into_the_torn_file(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"n":1,"la')
    ResultLog(path, max_bytes=1 << 20, keep=2).close()
    assert path.read_bytes() == b""
    assert [p.read_bytes() for p in tmp_path.glob("results.jsonl.torn-*")] == [b'{"n":1,"la']


def test_two_torn_starts_in_one_second_keep_both_fragments(tmp_path):
    path = tmp_path / "results.jsonl"
    for fragment in (b'{"a', b'{"b'):
        path.write_bytes(b'{"n":1}\n' + fragment)
        ResultLog(path, max_bytes=1 << 20, keep=2).close()
    assert sorted(p.read_bytes() for p in tmp_path.glob("results.jsonl.torn-*")) == [b'{"a', b'{"b']


def test_a_whole_file_is_left_alone(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"n":1}\n')
    log = ResultLog(path, max_bytes=1 << 20, keep=2)
    log.close()
    assert log.torn_path is None
    assert [p.name for p in tmp_path.iterdir()] == ["results.jsonl"]


def test_a_failed_write_leaves_no_partial_line(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    log = ResultLog(path, max_bytes=1 << 20, keep=2)
    log.append(json.dumps({"n": 1}))
    real_write = os.write
    monkeypatch.setattr(results_module.os, "write", lambda fd, data: real_write(fd, data[:5]))  # disk full
    with pytest.raises(ResultLogError, match="results.jsonl: cannot write result: short write"):
        log.append(json.dumps({"n": 2}))
    monkeypatch.setattr(results_module.os, "write", real_write)
    log.append(json.dumps({"n": 3}))
    log.close()
    assert lines(path) == [{"n": 1}, {"n": 3}]


def test_an_unwritable_folder_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with pytest.raises(ResultLogError, match="blocked/results.jsonl: cannot open result log"):
        ResultLog(tmp_path / "blocked" / "results.jsonl", max_bytes=1 << 20, keep=2)
