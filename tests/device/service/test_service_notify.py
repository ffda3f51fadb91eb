"""sd_notify over a real AF_UNIX datagram socket, as systemd provides it in NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from piclassify.device.service.notify import Notifier


@pytest.fixture
def systemd_socket(tmp_path):
    """A socket standing in for systemd's; yields (NOTIFY_SOCKET value, receive function)."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        yield str(path), lambda: dict(line.split("=", 1) for line in sock.recv(4096).decode().split("\n"))


def test_ready_carries_a_status(systemd_socket):
    address, receive = systemd_socket
    Notifier.from_environ({"NOTIFY_SOCKET": address}).ready("0.0 fps, last: none yet")
    assert receive() == {"READY": "1", "STATUS": "0.0 fps, last: none yet"}


def test_stopping_and_status(systemd_socket):
    address, receive = systemd_socket
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    notifier.status("camera lost (no camera), retrying in 4.0s")
    notifier.stopping()
    assert receive() == {"STATUS": "camera lost (no camera), retrying in 4.0s"}
    assert receive() == {"STOPPING": "1"}


def test_reloading_says_when_for_notify_reload(systemd_socket):
    address, receive = systemd_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier.from_environ({"NOTIFY_SOCKET": address}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    message = receive()
    assert message["RELOADING"] == "1"
    assert before <= int(message["MONOTONIC_USEC"]) <= after  # CLOCK_MONOTONIC in microseconds, as systemd reads it


def test_a_status_cannot_smuggle_in_another_field(systemd_socket):
    address, receive = systemd_socket
    Notifier.from_environ({"NOTIFY_SOCKET": address}).status("camera lost\nREADY=1")
    assert receive() == {"STATUS": "camera lost READY=1"}


def test_heartbeat_pings_the_watchdog_only_when_systemd_asked(systemd_socket):
    address, receive = systemd_socket
    Notifier.from_environ({"NOTIFY_SOCKET": address}).heartbeat("12.0 fps")
    assert receive() == {"STATUS": "12.0 fps"}
    Notifier.from_environ({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000"}).heartbeat("12.0 fps")
    assert receive() == {"STATUS": "12.0 fps", "WATCHDOG": "1"}


def test_heartbeat_before_ready_can_extend_the_start_timeout(systemd_socket):
    address, receive = systemd_socket
    Notifier.from_environ({"NOTIFY_SOCKET": address}).heartbeat("camera lost", extend_start_s=30)
    assert receive() == {"STATUS": "camera lost", "EXTEND_TIMEOUT_USEC": "30000000"}


def test_the_watchdog_interval_is_half_the_timeout():
    assert Notifier.from_environ({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    assert Notifier.from_environ({}).watchdog_interval is None


def test_a_watchdog_meant_for_another_process_is_ignored():
    other = str(os.getpid() + 1)
    assert Notifier.from_environ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": other}).watchdog_interval is None
    mine = str(os.getpid())
    assert Notifier.from_environ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": mine}).watchdog_interval == 15.0


def test_an_abstract_socket_is_spelled_with_a_leading_at():
    name = f"piclassify-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).ready("ok")
        assert sock.recv(4096) == b"READY=1\nSTATUS=ok"


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    notifier.ready("ok")
    notifier.heartbeat("ok")
    notifier.stopping()


def test_a_vanished_socket_is_logged_once_and_never_raised(tmp_path, caplog):
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    notifier.status("one")
    notifier.status("two")
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "cannot notify systemd" in caplog.text
