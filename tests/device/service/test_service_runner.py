"""The service loop: ready only with a frame, camera faults retried, SIGTERM clean, SIGHUP reloads.

In-process tests drive ``Service`` with fake sources and a fake model; the signal tests run the
real ``main`` in a subprocess (``fake_service_main`` in tests/helpers/service.py) with a real sd_notify socket.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import CAPTURE, RELOAD, STOP
from piclassify.device.errors import CameraError
from piclassify.shared.errors import ImageError

from conftest import REPO, wait_until
from tests.helpers.service import FRAMES, Harness


def test_frames_are_classified_and_logged_until_a_file_source_runs_out(tmp_path):
    harness = Harness(tmp_path, [[FRAMES] * 3], 'model = "digits"')
    assert harness.run() == 0
    results = harness.results()
    assert [(r["model"], r["label"], r["frame"], r["source"]) for r in results] == [
        ("digits", "digits", index, "fake:auto") for index in range(3)]
    assert [r["schema"] for r in results] == [1, 1, 1]
    assert harness.notifier.kinds() == ["READY", "STOPPING"]
    assert harness.sources[0].closed


def test_ready_waits_for_a_first_frame_and_start_up_is_extended_meanwhile(tmp_path):
    harness = Harness(tmp_path, [CameraError("picamera2: no camera"), [FRAMES]])
    assert harness.run() == 0
    messages = harness.notifier.messages
    first_ready = next(index for index, message in enumerate(messages) if "READY" in message)
    waiting = messages[:first_ready]
    assert any(m.get("STATUS", "").startswith("camera lost (picamera2: no camera), retrying in") for m in waiting)
    assert all("EXTEND_TIMEOUT_USEC" in m for m in waiting if "STATUS" in m)
    assert not any("EXTEND_TIMEOUT_USEC" in m for m in messages[first_ready:])


def test_a_lost_camera_is_reopened_with_doubling_backoff_and_the_service_keeps_going(tmp_path, caplog):
    caplog.set_level("INFO")
    gone = CameraError("/dev/video0: stopped delivering frames")
    missing = CameraError("/dev/video0: no such camera")
    harness = Harness(tmp_path, [[FRAMES, FRAMES, gone], missing, missing, missing, [FRAMES, FRAMES]])
    assert harness.run() == 0
    assert len(harness.results()) == 4
    lost = [record.getMessage() for record in caplog.records if record.getMessage().startswith("camera lost")]
    assert lost == [f"camera lost: {gone}; retrying in 0.01s", f"camera lost: {missing}; retrying in 0.02s",
                    f"camera lost: {missing}; retrying in 0.04s", f"camera lost: {missing}; retrying in 0.04s"]
    assert "camera back: fake:auto" in caplog.text
    assert harness.sources[0].closed
    assert harness.notifier.kinds() == ["READY", "STOPPING"]
    assert any(status.startswith(f"camera lost ({gone}), retrying in") for status in harness.notifier.statuses())


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_frame():
    backoff = Backoff(0.5, 30.0)
    assert [backoff.next_delay() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_a_stop_finishes_the_current_frame_and_exits_0(tmp_path):
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)])
    harness.on_classify = lambda frame: frame.index == 2 and harness.service.events.put(STOP)
    assert harness.run() == 0
    assert [r["frame"] for r in harness.results()] == [0, 1, 2]
    assert harness.sources[0].closed


def test_a_reload_switches_the_model_and_keeps_the_camera_open(tmp_path):
    harness = Harness(tmp_path, [[FRAMES] * 6], 'model = "alpha"')

    def reload_after_frame_2(frame: Frame) -> None:
        if frame.index == 2:
            harness.write_config('model = "beta"')
            harness.service.events.put(RELOAD)

    harness.on_classify = reload_after_frame_2
    assert harness.run() == 0
    assert [r["model"] for r in harness.results()] == ["alpha"] * 3 + ["beta"] * 3
    assert len(harness.sources) == 1
    assert harness.notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]


def test_a_reload_that_changes_the_source_reopens_it(tmp_path):
    harness = Harness(tmp_path, [[FRAMES] * 2, [FRAMES] * 2], 'source = "usb:0"')

    def switch_camera(frame: Frame) -> None:
        if frame.index == 0 and len(harness.sources) == 1:
            harness.write_config('source = "usb:1"')
            harness.service.events.put(RELOAD)

    harness.on_classify = switch_camera
    assert harness.run() == 0
    assert [r["source"] for r in harness.results()] == ["fake:usb:0", "fake:usb:1", "fake:usb:1"]
    assert harness.sources[0].closed


def test_a_reload_with_a_broken_config_keeps_the_running_one(tmp_path, caplog):
    harness = Harness(tmp_path, [[FRAMES] * 4], 'model = "alpha"')

    def break_config(frame: Frame) -> None:
        if frame.index == 1:
            harness.config_path.write_text('model = "beta"\nmood = "x"\n')
            harness.service.events.put(RELOAD)

    harness.on_classify = break_config
    assert harness.run() == 0
    assert [r["model"] for r in harness.results()] == ["alpha"] * 4
    assert f"reload failed, keeping the running configuration: {harness.config_path}: unknown key 'mood'" \
        in caplog.text
    assert harness.notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]


def test_trigger_mode_classifies_one_frame_per_press_and_a_long_press_reloads(tmp_path, mock_pins):
    pin = mock_pins(17)
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)],
                      'mode = "trigger"\n[button]\npin = 17\nhold_s = 0.1\non_hold = "reload"')

    def press_twice_then_hold() -> None:
        for presses in (1, 2):
            pin.drive_low()
            pin.drive_high()
            wait_until(lambda: harness.line_count() >= presses)
        pin.drive_low()
        wait_until(lambda: "RELOADING" in harness.notifier.kinds())
        pin.drive_high()

    assert harness.run_while(press_twice_then_hold) == 0
    assert [r["frame"] for r in harness.results()] == [1, 2], "frame 0 proved the camera; each press is one frame"
    assert harness.notifier.kinds() == ["READY", "RELOADING", "READY", "STOPPING"]


def test_a_button_per_class_keeps_the_newest_frame_as_an_example_of_it(tmp_path, mock_pins):
    """[teach] buttons: the teach panel's classes on GPIO, for a Pi with no screen at hand."""
    mug, keys = mock_pins(17), mock_pins(27)
    examples = tmp_path / "examples"
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)],
                      f'[teach]\nexamples = "{examples}"\nbuttons = {{ mug = 17, keys = 27 }}')

    def press_mug_keys_mug() -> None:
        wait_until(lambda: harness.line_count() >= 2)  # a frame has been handed to every sink, the panel too
        for number, pin in enumerate((mug, keys, mug), start=1):
            pin.drive_low()
            pin.drive_high()
            wait_until(lambda: len(list(examples.rglob("*.jpg"))) == number)

    assert harness.run_while(press_mug_keys_mug) == 0
    assert harness.service.teacher.store.counts() == {"keys": 1, "mug": 2}


def test_a_flood_of_triggers_is_one_capture_and_one_log_line(tmp_path, caplog, mock_pins):
    """10,000 MQTT or web triggers while a frame is classified: one pending capture, not 10,000 results."""
    caplog.set_level(logging.INFO)
    mock_pins(17)
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)], 'mode = "trigger"\n[button]\npin = 17')

    def flood() -> None:
        for _ in range(10_000):
            harness.service.events.put(CAPTURE)
        wait_until(lambda: harness.line_count() >= 1)
        time.sleep(0.3)  # time for any further captures to show

    assert harness.run_while(flood) == 0
    assert 1 <= harness.line_count() <= 2  # the flood arrived while at most one capture was under way
    assert caplog.text.count("merged into it") == 1


# -- the real main() in a subprocess ----------------------------------------------------------

class ServiceProcess:
    """``fake_service_main`` in a subprocess, with a real NOTIFY_SOCKET to hear it."""

    def __init__(self, tmp_path: Path, config: str, environ: Optional[dict[str, str]] = None) -> None:
        self.config_path = tmp_path / "piclassify.toml"
        self.results_path = tmp_path / "results.jsonl"
        self.write_config(config)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(tmp_path / "notify"))
        self.socket.settimeout(10)
        code = ("import sys; sys.path[:0] = [sys.argv[1]]; from tests.helpers.service import fake_service_main; "
                "sys.exit(fake_service_main(sys.argv[2]))")
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), **(environ or {})}
        self.process = subprocess.Popen([sys.executable, "-c", code, str(REPO), str(self.config_path)],
                                        env=env, stderr=subprocess.PIPE, text=True)

    def write_config(self, text: str) -> None:
        self.config_path.write_text(f'{text}\n[results]\npath = "{self.results_path}"\n')

    def wait_for(self, key: str) -> dict[str, str]:
        while True:
            message = dict(line.split("=", 1) for line in self.socket.recv(4096).decode().split("\n"))
            if key in message:
                return message

    def result_lines(self) -> list[bytes]:
        return self.results_path.read_bytes().split(b"\n") if self.results_path.exists() else [b""]

    def wait_for_results(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.result_lines()) - 1 < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self) -> tuple[int, str]:
        _, stderr = self.process.communicate(timeout=10)
        return self.process.returncode, stderr

    def close(self) -> None:
        self.process.kill()
        self.process.communicate()
        self.socket.close()


@pytest.fixture
def start_service(tmp_path):
    """``start_service(config)`` -> a running ``ServiceProcess``; killed after the test if still running."""
    started: list[ServiceProcess] = []

    def start(config: str, environ: Optional[dict[str, str]] = None) -> ServiceProcess:
        started.append(ServiceProcess(tmp_path, config, environ))
        return started[-1]

    yield start
    for service in started:
        service.close()


def test_sigterm_mid_run_exits_0_within_2_seconds_leaving_only_whole_lines(start_service):
    service = start_service('model = "alpha"')
    service.wait_for("READY")
    service.wait_for_results(5)
    service.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    service.process.wait(timeout=10)
    took = time.monotonic() - stopped_at
    returncode, stderr = service.finish()
    assert returncode == 0, stderr
    assert took <= 2.0
    lines = service.result_lines()
    assert lines[-1] == b"", "the file ends with a newline"
    assert all(json.loads(line)["model"] == "alpha" for line in lines[:-1])
    assert "closed source fake:auto" in stderr
    assert "STOPPING" in service.wait_for("STOPPING")


def test_sigint_stops_like_sigterm(start_service):
    service = start_service("")
    service.wait_for("READY")
    service.process.send_signal(signal.SIGINT)
    returncode, stderr = service.finish()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


def test_sighup_reloads_the_model_without_reopening_the_camera(start_service):
    service = start_service('model = "alpha"')
    service.wait_for("READY")
    service.wait_for_results(2)
    service.write_config('model = "beta"')
    service.process.send_signal(signal.SIGHUP)
    service.wait_for("RELOADING")
    service.wait_for("READY")
    wait_until(lambda: b'"model":"beta"' in service.results_path.read_bytes())
    service.process.send_signal(signal.SIGTERM)
    returncode, stderr = service.finish()
    assert returncode == 0, stderr
    models = [json.loads(line)["model"] for line in service.result_lines()[:-1]]
    assert models[0] == "alpha" and models[-1] == "beta"
    assert models == sorted(models), "no alpha result after the first beta one"
    assert stderr.count("opened source") == 1


def test_a_config_error_is_one_journal_line_and_exit_code_2(start_service):
    service = start_service('mode = "sometimes"', environ={"INVOCATION_ID": "0123"})
    returncode, stderr = service.finish()
    assert returncode == 2
    assert stderr.splitlines() == [
        f"<3>piclassify.device.service.runner: {service.config_path}: mode must be one of 'continuous', 'trigger', "
        f"got 'sometimes'"]


def test_a_missing_model_exits_2_before_ready(start_service):
    service = start_service('model = "missing"')
    returncode, stderr = service.finish()
    assert returncode == 2
    assert "missing: no such model file or bundled model" in stderr
    assert "STOPPING" in service.wait_for("STOPPING")
    lines = stderr.splitlines()
    error = next(n for n, line in enumerate(lines) if "no such model file" in line)
    assert lines[error + 1:] == [lines[-1]] and lines[-1].endswith("stopped"), "the reason, then that it stopped"


def test_the_real_service_classifies_a_watched_folder_skipping_bad_files_and_picking_up_new_ones(tmp_path):
    """A folder the service watches: every image once, bad files named and passed over; when the listing runs out
    it waits for new photos (a folder that starts empty too) instead of exiting and staying stopped."""
    samples = sorted((REPO / "device" / "samples").glob("digits-*.jpg"))
    folder = tmp_path / "camera"
    folder.mkdir()
    for sample in samples[:-1]:
        (folder / sample.name).write_bytes(sample.read_bytes())
    bad = {"digits-1-b.jpg": b"", "digits-2-b.jpg": samples[0].read_bytes()[:200], "digits-3-b.png": b"GIF89a"}
    for name, data in bad.items():  # between the good ones, in name order
        (folder / name).write_bytes(data)
    results_path = tmp_path / "results.jsonl"
    config = tmp_path / "piclassify.toml"
    config.write_text(f'model = "digits"\nsource = "{folder}"\n[results]\npath = "{results_path}"\n'
                      f'[frames]\nsave = "all"\npath = "{tmp_path / "frames"}"\n')
    service = subprocess.Popen([sys.executable, "-m", "piclassify.device.commands.cli", "service", "--config", str(config)],
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "NOTIFY_SOCKET": ""})
    lines = lambda: results_path.read_text().splitlines() if results_path.exists() else []  # noqa: E731
    try:
        assert wait_until(lambda: len(lines()) == len(samples) - 1, 60)
        time.sleep(1.5)  # the listing has run out and been read again: still running, nothing classified twice
        assert service.poll() is None and len(lines()) == len(samples) - 1
        (folder / samples[-1].name).write_bytes(samples[-1].read_bytes())  # a new photo arrives
        assert wait_until(lambda: len(lines()) == len(samples), 10)
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=20)
    assert service.returncode == 0, stderr
    results = [json.loads(line) for line in lines()]
    assert [r["model"] for r in results] == ["digits"] * len(samples)
    assert [r["label"] for r in results] == [sample.stem.split("-")[-1] for sample in samples]  # digits-<n>-<label>
    assert [Path(r["source"]).name for r in results] == [sample.name for sample in samples]
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == len(samples)
    skipped = [line for line in stderr.splitlines() if "skipped:" in line]
    assert sorted(name for name in bad for line in skipped if name in line) == sorted(bad), stderr
    assert len(skipped) == len(bad)
    assert "Traceback" not in stderr


def test_a_watched_folder_that_starts_empty_waits_for_its_first_photo(tmp_path):
    from piclassify.device.core.sources import open_source
    from piclassify.device.core.sources.base import NothingYet

    with open_source(str(tmp_path), watch=True) as source:
        with pytest.raises(NothingYet):
            next(source)
        sample = sorted((REPO / "device" / "samples").glob("digits-*.jpg"))[0]
        (tmp_path / sample.name).write_bytes(sample.read_bytes())
        assert next(source).origin == str(tmp_path / sample.name)
        with pytest.raises(NothingYet):
            next(source)


def test_frames_with_nothing_in_view_are_not_logged_unless_asked_and_status_counts_them(tmp_path):
    harness = Harness(tmp_path, [[FRAMES] * 4], 'model = "empty"')
    assert harness.run() == 0
    assert [r["frame"] for r in harness.results()] == [0, 2]
    assert harness.service.loop is not None and "2 with nothing in view" in harness.service.loop.status_text()
    harness.results_path.unlink()
    harness = Harness(tmp_path, [[FRAMES] * 4], 'model = "empty"', results="nothing = true")
    assert harness.run() == 0
    assert [(r["frame"], r["label"]) for r in harness.results()] == [(0, "empty"), (1, None), (2, "empty"), (3, None)]


def test_a_bad_frame_is_skipped_and_the_loop_goes_on(tmp_path, caplog):
    harness = Harness(tmp_path, [[FRAMES, ImageError("b.jpg: not a readable image"), FRAMES]])
    assert harness.run() == 0
    assert [r["frame"] for r in harness.results()] == [0, 1]
    assert "skipped: b.jpg: not a readable image" in caplog.text
