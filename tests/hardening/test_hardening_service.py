"""The service against bad input: every bad config a one-line error naming the key, and a running
service that survives a SIGHUP with each of them, a full disk (start-up included) and symlinks
planted in its folders.

The subprocess tests run the real ``main`` with tests/helpers/service.py's fake camera and model, so
they need no camera and no model file, only signals, a notify socket and the file system.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

from piclassify.device.config import ConfigError, FramesConfig, check_against_model, load_config
from piclassify.device.core import sink as sinks_module
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.service.install import InstallError, MakeDirectory, WriteFile
from piclassify.device.sinks import results_log as results_module
from piclassify.device.sinks.frames_store import FrameStore, FrameStoreError
from piclassify.device.sinks.outputs import Outputs
from piclassify.device.sinks.results_log import TORN_KEPT, ResultLog, ResultLogError
from piclassify.shared.errors import PiclassifyError

from conftest import REPO, make_frame, make_result, wait_until
from tests.helpers.service import FakePipeline

# (case, config text, what its one-line error must contain). {tmp} is the test's folder; every
# config names its own results file, so a config wrongly accepted never writes to /var/lib.
RESULTS = '\n[results]\npath = "{tmp}/results.jsonl"\n'
BAD_CONFIGS = [
    ("unknown key", 'model = "beta"\nmood = "x"' + RESULTS, "unknown key 'mood'"),
    ("unknown key in a section", 'model = "beta"\n[button]\npinn = 17' + RESULTS, "unknown key 'button.pinn'"),
    ("not one of the choices", 'model = "beta"\nmode = "sometimes"' + RESULTS, "mode must be one of"),
    ("NaN", 'model = "beta"\ninterval_s = nan' + RESULTS, "interval_s must be a number"),
    ("infinity", 'model = "beta"\nmin_score = inf' + RESULTS, "min_score must be a number"),
    ("too many threads", 'model = "beta"\nthreads = 1000' + RESULTS, "threads must be an integer"),
    ("wrong type", 'model = "beta"\nsize = "640x480"' + RESULTS, "size must be [width, height]"),
    ("empty model", 'model = ""' + RESULTS, "model must be a non-empty string"),
    ("a section that is a value", 'model = "beta"\nbutton = 3' + RESULTS, "button must be a table"),
    ("trigger without a button", 'model = "beta"\nmode = "trigger"' + RESULTS, "button.pin is required"),
    ("one pin twice", 'model = "beta"\n[button]\npin = 17\n[feedback]\nblink_pin = "GPIO17"' + RESULTS,
     "feedback.blink_pin uses pin 'GPIO17', already used by button.pin"),
    ("a label the model lacks", 'model = "beta"\n[feedback]\nlabel_pins = {{ kat = 5 }}' + RESULTS,
     "feedback.label_pins: 'kat' is not a label of model beta"),
    ("broken TOML", 'model = "beta"\nmode = \n' + RESULTS, "not valid TOML"),
    ("not UTF-8", 'model = "b\udce9ta"' + RESULTS, "not valid TOML: not UTF-8 text"),
    ("nested too deeply", "x = " + "[" * 5000 + "]" * 5000 + RESULTS, "nested too deeply"),
]
# Configs that parse but name something that cannot be used; they fail when the service opens it.
BAD_SETUPS = [
    ("unknown model", 'model = "missing"' + RESULTS, "missing: no such model file or bundled model"),
    ("results file in a file", 'model = "beta"\n[results]\npath = "{tmp}/a-file/results.jsonl"',
     "a-file/results.jsonl: cannot open result log"),
    ("frames folder in a file", 'model = "beta"\n[frames]\nsave = "all"\npath = "{tmp}/a-file/frames"' + RESULTS,
     "a-file/frames: cannot use frames folder"),
    ("no such pin", 'model = "beta"\n[feedback]\nblink_pin = "GPIO99"' + RESULTS,
     "feedback.blink_pin = 'GPIO99': cannot open LED"),
]
# The config path itself is wrong: (case, what to put there, expected message).
BAD_PATHS = [("a FIFO", "fifo", "not a regular file (a FIFO)"), ("a folder", "folder", "not a regular file (a folder)"),
             ("gone", "nothing", "No such file or directory")]


# A watchdog of 0.4 s makes the service send STATUS every 0.2 s, so the tests hear changes quickly.
QUICK_STATUS = {"WATCHDOG_USEC": "400000"}


def write_config(path: Path, text: str) -> None:
    path.write_bytes(text.format(tmp=path.parent).encode("utf-8", "surrogateescape"))


def replace_config(path: Path, kind: str) -> None:
    """Put a FIFO, a folder or nothing where the config file was."""
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()


def restore_config(path: Path) -> None:
    if path.is_dir():
        path.rmdir()
    elif path.exists():
        path.unlink()


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message
    return message


# -- the table of bad configs, in-process -------------------------------------------------------------

@pytest.mark.parametrize("case, text, expected", BAD_CONFIGS, ids=[case for case, *_ in BAD_CONFIGS])
def test_a_bad_config_is_one_line_naming_the_file_and_the_key(tmp_path, case, text, expected):
    path = tmp_path / "piclassify.toml"
    write_config(path, text)
    with pytest.raises(ConfigError) as caught:
        config = load_config(path)
        check_against_model(config, "multiclass", ("beta", "other"), "beta", str(path))
    assert one_line(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize("case, text, expected", BAD_SETUPS, ids=[case for case, *_ in BAD_SETUPS])
def test_a_config_naming_what_cannot_be_used_is_one_line_when_opened(tmp_path, mock_pins, case, text, expected):
    path = tmp_path / "piclassify.toml"
    (tmp_path / "a-file").write_text("a file where a folder should be")
    write_config(path, text)
    config = load_config(path)
    with pytest.raises(PiclassifyError) as caught:
        Outputs.open(config, FakePipeline(config.model), queue.SimpleQueue()).close()
    assert expected in one_line(caught.value)


@pytest.mark.parametrize("case, kind, expected", BAD_PATHS, ids=[case for case, *_ in BAD_PATHS])
def test_a_config_path_that_is_not_a_file_is_one_line_and_never_blocks(tmp_path, case, kind, expected):
    path = tmp_path / "piclassify.toml"
    path.write_text("")
    replace_config(path, kind)
    with pytest.raises(ConfigError) as caught:
        load_config(path)  # a FIFO would block here forever without O_NONBLOCK
    assert one_line(caught.value) == f"{path}: cannot read config: {expected}"


# -- a running service, in a subprocess ---------------------------------------------------------------

class Child:
    """``fake_service_main`` in a subprocess (after ``setup``, Python lines run first), heard on a notify socket."""

    def __init__(self, tmp_path: Path, config: str, setup: str = "", env: Optional[dict[str, str]] = None) -> None:
        self.config_path = tmp_path / "piclassify.toml"
        self.results_path = tmp_path / "results.jsonl"
        write_config(self.config_path, config)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(tmp_path / "notify"))
        self.socket.settimeout(10)
        code = ("import sys; sys.path[:0] = [sys.argv[1]]; from tests.helpers.service import fake_service_main\n"
                + setup + "\nsys.exit(fake_service_main(sys.argv[2]))")
        environ = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "PYTHONDONTWRITEBYTECODE": "1",
                   **(env or {})}
        self.process = subprocess.Popen([sys.executable, "-c", code, str(REPO), str(self.config_path)],
                                        env=environ, stderr=subprocess.PIPE, text=True)

    def wait_for(self, wanted: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        while True:
            message = dict(line.split("=", 1) for line in self.socket.recv(4096).decode().split("\n"))
            if wanted(message):
                return message

    def reload(self) -> None:
        """SIGHUP, and wait until the loop has finished reloading (RELOADING, then READY)."""
        self.process.send_signal(signal.SIGHUP)
        self.wait_for(lambda message: "RELOADING" in message)
        self.wait_for(lambda message: "READY" in message)

    def models_logged(self) -> list[str]:
        data = self.results_path.read_bytes() if self.results_path.exists() else b""
        return [json.loads(line)["model"] for line in data.splitlines() if line.startswith(b'{"schema"')]

    def stop(self) -> tuple[int, str]:
        assert self.process.poll() is None, "the service is still running before SIGTERM"
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=20)
        return self.process.returncode, stderr

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        self.socket.close()


@pytest.fixture
def child(tmp_path):
    started: list[Child] = []

    def start(config: str, setup: str = "", env: Optional[dict[str, str]] = None) -> Child:
        started.append(Child(tmp_path, config, setup, env))
        return started[-1]

    yield start
    for process in started:
        process.close()


def test_sighup_with_each_bad_config_keeps_the_running_one_and_sigterm_still_stops_cleanly(tmp_path, child):
    (tmp_path / "a-file").write_text("a file where a folder should be")
    service = child('model = "alpha"' + RESULTS, env={"GPIOZERO_PIN_FACTORY": "mock", **QUICK_STATUS})
    service.wait_for(lambda message: "READY" in message)
    expected = []
    for case, text, fragment in BAD_CONFIGS + BAD_SETUPS:
        write_config(service.config_path, text)
        service.reload()
        expected.append((case, fragment))
    for case, kind, fragment in BAD_PATHS:
        replace_config(service.config_path, kind)
        service.reload()
        restore_config(service.config_path)
        expected.append((case, fragment))
    logged = len(service.models_logged())
    assert wait_until(lambda: len(service.models_logged()) > logged + 3), "still classifying after every reload"
    returncode, stderr = service.stop()
    assert returncode == 0, stderr
    assert set(service.models_logged()) == {"alpha"}, "no bad config was ever taken up"
    failures = [line for line in stderr.splitlines() if "reload failed, keeping the running configuration: " in line]
    assert len(failures) == len(expected), stderr
    for (case, fragment), line in zip(expected, failures):
        assert fragment in line, f"{case}: {line}"
    assert "Traceback" not in stderr


# -- a full disk ------------------------------------------------------------------------------------

# The child's writes to files fail with EFBIG (RLIMIT_FSIZE 0; SIGXFSZ ignored so write returns the
# error instead of killing the process) until SIGUSR1 lifts the limit: "space is back".
FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
signal.signal(signal.SIGUSR1, lambda *_: resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard)))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
"""


def test_a_full_disk_at_start_with_a_torn_line_is_survived_and_the_log_resumes_when_space_returns(tmp_path, child):
    (tmp_path / "results.jsonl").write_bytes(b'{"n":1}\n{"n":2,"la')
    service = child('model = "alpha"' + RESULTS, setup=FULL_DISK, env=QUICK_STATUS)
    service.wait_for(lambda message: "READY" in message)
    status = service.wait_for(lambda message: "failing: results log (ResultLogError)" in message.get("STATUS", ""))
    assert "last: alpha" in status["STATUS"], "classifying goes on while the log cannot be written"
    time.sleep(0.5)  # a dozen more results while the disk is full: still no more log lines
    service.process.send_signal(signal.SIGUSR1)
    assert wait_until(lambda: "alpha" in service.models_logged(), timeout=15), "the log resumes after the backoff"
    returncode, stderr = service.stop()
    assert returncode == 0, stderr
    lines = (tmp_path / "results.jsonl").read_bytes().splitlines(keepends=True)
    assert lines[0] == b'{"n":1}\n' and all(line.endswith(b"\n") for line in lines)
    assert all(json.loads(line)["model"] == "alpha" for line in lines[1:])
    [torn] = tmp_path.glob("results.jsonl.torn-*")
    assert torn.read_bytes() == b'{"n":2,"la'
    problems = [line for line in stderr.splitlines() if " WARNING " in line or " ERROR " in line]
    assert len(problems) == 3, stderr
    assert "results.jsonl: cannot open result log yet: File too large" in problems[0]
    assert "results log failed: " in problems[1]  # once, for all the results that failed
    assert "ended in a torn line (10 bytes)" in problems[2]  # set aside as soon as there was room
    assert "results log works again" in stderr
    assert "Traceback" not in stderr


class Clock:
    """``time`` for the sinks module: a minute passes between calls, so every backoff has expired."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 60.0
        return self.now


def test_a_full_disk_is_one_log_line_however_many_results_fail(tmp_path, monkeypatch, caplog):
    sinks = Sinks([ResultLog(tmp_path / "results.jsonl", max_bytes=1 << 20, keep=2)])
    monkeypatch.setattr(sinks_module, "time", Clock())
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module.os, "write", full)
    with caplog.at_level(logging.INFO):
        for index in range(50):  # every other frame has nothing in view: nothing to write, so no false recovery
            result = make_result(frame=index) if index % 2 else make_result(label=None, frame=index)
            sinks.handle(Delivery(result, make_frame(index)))
        monkeypatch.setattr(results_module.os, "write", real_write)
        sinks.handle(Delivery(make_result(frame=50), make_frame(50)))
    sinks.close()
    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "results log failed" in m]) == 1, messages
    assert messages[-1] == "results log works again"
    assert [json.loads(line)["frame"] for line in (tmp_path / "results.jsonl").read_text().splitlines()] == [50]


def test_a_failed_frame_save_leaves_no_partial_file(tmp_path, monkeypatch):
    store = FrameStore(FramesConfig(save="all", path=tmp_path / "frames"))

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("PIL.Image.Image.save", full)
    with pytest.raises(FrameStoreError, match="cannot save frame: No space left on device"):
        store.handle(Delivery(make_result(), make_frame(1)))
    assert list((tmp_path / "frames").iterdir()) == []


# -- torn lines: only the tail is read, and the set-aside files are capped ---------------------------

def test_setting_aside_a_torn_line_reads_only_the_end_of_a_big_log(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"n":0}\n' * 500_000 + b'{"n":1,"la')  # 4 MB
    read = []
    real_pread = os.pread
    monkeypatch.setattr(results_module.os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at))
    ResultLog(path, max_bytes=1 << 30, keep=2).close()
    assert sum(read) <= 2 * results_module._CHUNK
    assert path.stat().st_size == 8 * 500_000


def test_only_the_newest_torn_files_are_kept_and_no_other_file_is_touched(tmp_path):
    path = tmp_path / "results.jsonl"
    old = [tmp_path / f"results.jsonl.torn-2024010{day}T000000Z" for day in range(1, 10)]
    old += [tmp_path / f"results.jsonl.torn-20240109T000000Z-{number}" for number in (2, 10)]
    others = [tmp_path / name for name in ("results.jsonl.torn-notes", "other.jsonl.torn-20240101T000000Z")]
    for file in old + others:
        file.write_bytes(b"kept?")
    path.write_bytes(b'{"n":1}\n{"n":2')
    ResultLog(path, max_bytes=1 << 20, keep=2).close()
    torn = sorted(tmp_path.glob("results.jsonl.torn-2*"))
    assert len(torn) == TORN_KEPT
    assert not old[0].exists() and not old[1].exists()  # the two oldest of the twelve went
    assert all(file.read_bytes() == b"kept?" for file in others)


# -- symlinks planted in service-owned folders ---------------------------------------------------------

@pytest.fixture
def precious(tmp_path) -> Path:
    """A file someone wants written or chmodded through a symlink."""
    target = tmp_path / "elsewhere" / "precious"
    target.parent.mkdir()
    target.write_bytes(b"do not touch")
    target.chmod(0o600)
    return target


def test_the_results_log_never_writes_through_a_symlink(tmp_path, precious):
    (tmp_path / "results.jsonl").symlink_to(precious)
    with pytest.raises(ResultLogError) as caught:
        ResultLog(tmp_path / "results.jsonl", max_bytes=1 << 20, keep=2)
    assert one_line(caught.value).endswith("it is a symbolic link, and the log never writes through one")
    assert precious.read_bytes() == b"do not touch"


def test_the_frames_store_never_writes_through_nor_counts_a_planted_symlink(tmp_path, precious):
    folder = tmp_path / "frames"
    folder.mkdir()
    planted = folder / "20231114T221300.000000Z-00000099-cat.jpg"  # the store's own name pattern, oldest
    planted.symlink_to(precious)
    store = FrameStore(FramesConfig(save="all", path=folder, max_count=1))
    for index in range(3):
        store.handle(Delivery(make_result("cat"), make_frame(index)))
    assert precious.read_bytes() == b"do not touch"
    assert planted.is_symlink(), "not counted as one of the store's own frames, so never deleted"
    saved = [path for path in folder.iterdir() if not path.is_symlink()]
    assert len(saved) == 1 and saved[0].stat().st_mode & 0o777 == 0o640


def test_a_symlink_where_a_frame_goes_is_replaced_not_followed(tmp_path, precious):
    store = FrameStore(FramesConfig(save="all", path=tmp_path / "frames"))
    frame = make_frame(7)
    name = "20231114T221327.000000Z-00000007-cat.jpg"
    (tmp_path / "frames" / name).symlink_to(precious)
    (tmp_path / "frames" / name.replace(".jpg", ".part")).symlink_to(tmp_path / "elsewhere" / "new")
    with pytest.raises(FrameStoreError, match="cannot save frame: File exists"):
        store.handle(Delivery(make_result("cat"), frame))  # a planted .part: never written through
    (tmp_path / "frames" / name.replace(".jpg", ".part")).unlink()
    store.handle(Delivery(make_result("cat"), frame))
    assert precious.read_bytes() == b"do not touch"
    assert not (tmp_path / "frames" / name).is_symlink()
    assert not (tmp_path / "elsewhere" / "new").exists()


def test_install_service_never_chmods_or_chowns_through_a_symlinked_folder(tmp_path, precious):
    me, group = _names()
    state = tmp_path / "state"
    state.mkdir()
    precious.parent.chmod(0o700)
    (state / "results").symlink_to(precious.parent)  # done by the service user, who owns state/
    with pytest.raises(InstallError) as caught:
        MakeDirectory(state / "results", 0o750, me, group).apply()
    assert one_line(caught.value).startswith(f"{state / 'results'} is a symbolic link or a file, not a folder")
    assert precious.parent.stat().st_mode & 0o777 == 0o700


def test_install_service_sets_mode_and_owner_of_a_real_folder(tmp_path):
    me, group = _names()
    MakeDirectory(tmp_path / "state" / "frames", 0o750, me, group).apply()
    info = (tmp_path / "state" / "frames").stat()
    assert info.st_mode & 0o777 == 0o750 and info.st_uid == os.getuid()


def test_install_service_writes_a_file_without_following_a_planted_symlink(tmp_path, precious):
    (tmp_path / "piclassify.toml.new").symlink_to(precious)
    with pytest.raises(InstallError, match="piclassify.toml.new: cannot write"):
        WriteFile(tmp_path / "piclassify.toml", "model = 'digits'\n", 0o640, group=_names()[1]).apply()
    assert precious.read_bytes() == b"do not touch"


def _names() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def test_the_unit_closes_dev_shm():
    unit = (REPO / "systemd" / "piclassify.service").read_text()
    assert "\nInaccessiblePaths=/dev/shm\n" in unit
