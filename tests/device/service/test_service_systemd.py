"""The systemd side: the unit verifies and is hardened, install-service's plan, journald log lines."""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from piclassify.device.service import install
from piclassify.device.service.cli import add_service_commands
from piclassify.device.service.install import (
    InstallError,
    Layout,
    MakeDirectory,
    RunCommand,
    WriteFile,
    exec_start,
    install_commands,
    install_service,
)
from piclassify.device.service.logs import configure_logging

from conftest import REPO

UNIT = REPO / "systemd" / "piclassify.service"
EXEC_START = "/opt/piclassify/venv/bin/piclassify service --config /etc/piclassify/piclassify.toml"


def unit_settings() -> list[tuple[str, str]]:
    """(key, value) for every setting in the unit, repeated keys included."""
    lines = [line for line in UNIT.read_text().splitlines() if line and not line.startswith(("#", "["))]
    return [tuple(line.split("=", 1)) for line in lines]  # type: ignore[misc]


def setting(key: str) -> list[str]:
    return [value for name, value in unit_settings() if name == key]


def systemd_analyze() -> str:
    """The systemd-analyze binary; skipped where systemd is not installed, a failure under CI=true."""
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze not installed (CI installs systemd; see .ci/run)")
        pytest.skip("systemd-analyze not installed")
    return found


def unit_with_existing_binary(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart exists here, so verify judges the unit and not this machine."""
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("ExecStart=/opt/piclassify/venv/bin/piclassify ", "ExecStart=/bin/true "))
    return copy


def test_the_unit_is_a_watched_notify_service_that_restarts_on_failure():
    assert setting("Type") == ["notify"]
    assert setting("NotifyAccess") == ["main"]
    assert setting("ExecStart") == [EXEC_START]
    assert setting("Restart") == ["on-failure"]
    assert int(setting("WatchdogSec")[0]) > 2 * 2, "well above the loop's 2 s heartbeat"
    assert setting("StartLimitIntervalSec") and setting("StartLimitBurst")
    assert setting("RestartPreventExitStatus") == ["2"], "config errors exit 2 and a restart cannot fix them"


def test_the_unit_runs_as_its_own_user_with_camera_and_gpio_groups_only():
    assert setting("User") == ["piclassify"]
    assert setting("SupplementaryGroups") == ["video gpio"]
    assert setting("StateDirectory") == ["piclassify"]
    assert setting("ReadWritePaths") == ["/var/lib/piclassify"]
    assert setting("DevicePolicy") == ["closed"]
    allowed = " ".join(setting("DeviceAllow"))
    for device in ("video4linux", "media", "dma_heap", "vchiq", "gpiochip", "gpiomem"):
        assert device in allowed


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    done = subprocess.run([systemd_analyze(), "verify", str(unit_with_existing_binary(tmp_path))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_only_verify_complaint_about_the_real_unit_is_the_binary_not_installed_here():
    done = subprocess.run([systemd_analyze(), "verify", str(UNIT)], capture_output=True, text=True)
    complaints = [line for line in done.stderr.splitlines() if line]
    assert complaints in ([], ["piclassify.service: Command /opt/piclassify/venv/bin/piclassify is not executable: "
                               "No such file or directory"])


def test_systemd_analyze_security_rates_the_unit_2_or_lower(tmp_path):
    done = subprocess.run([systemd_analyze(), "security", "--offline=yes", str(unit_with_existing_binary(tmp_path))],
                          capture_output=True, text=True)
    exposure = re.search(r"Overall exposure level for piclassify\.service: (\d+\.\d+)", done.stdout)
    assert exposure is not None, done.stdout + done.stderr
    assert float(exposure.group(1)) <= 2.0


def test_with_the_network_drop_in_the_unit_may_use_ip_and_still_rates_2_or_lower(tmp_path):
    """What systemd makes of the unit plus network.conf: later assignments win, an empty one resets a list."""
    unit = unit_with_existing_binary(tmp_path)
    unit.write_text(unit.read_text() + "\n" + (UNIT.parent / "network.conf").read_text())
    done = subprocess.run([systemd_analyze(), "security", "--offline=yes", str(unit)], capture_output=True, text=True)
    exposure = re.search(r"Overall exposure level for piclassify\.service: (\d+\.\d+)", done.stdout)
    assert exposure is not None, done.stdout + done.stderr
    assert float(exposure.group(1)) <= 2.0
    verify = subprocess.run([systemd_analyze(), "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_the_network_drop_in_goes_in_only_while_the_web_view_or_mqtt_is_on():
    dropin = "/etc/systemd/system/piclassify.service.d/network.conf"
    with_network = plan(network_text="[Service]\n")
    assert "mkdir  /etc/systemd/system/piclassify.service.d (mode 0755, root:root)" in with_network
    assert f"write  {dropin} (mode 0644, root:root, 10 bytes)" in with_network
    assert not any(dropin in step for step in plan())
    assert f"remove {dropin}" in plan(dropin_exists=True), "turned off again: the old drop-in goes"


def test_install_service_reads_the_installed_config_to_decide(tmp_path, monkeypatch, capsys):
    layout = Layout(unit_dir=tmp_path / "units", config_dir=tmp_path / "etc", state_dir=tmp_path / "state")
    layout.config_dir.mkdir()
    layout.config_file.write_text("[web]\nenabled = true\n")
    monkeypatch.setattr(install.os, "access", lambda path, mode: True)  # as if the unit's venv were there
    assert install_service(dry_run=True, layout=layout) == 0
    assert "piclassify.service.d/network.conf" in capsys.readouterr().out
    layout.config_file.write_text("[web]\nenabled = 'yes'\n")
    with pytest.raises(InstallError, match="web.enabled must be true or false.*fix it, then run install-service"):
        install_service(dry_run=True, layout=layout)


def test_exec_start_names_the_program():
    assert exec_start(UNIT.read_text()) == "/opt/piclassify/venv/bin/piclassify"


def plan(**facts) -> list[str]:
    options = {"user_exists": False, "missing_groups": [], "config_exists": False, **facts}
    return [step.describe() for step in install_commands("[Unit]\n", "model = 'digits'\n", **options)]


def test_a_fresh_install_creates_user_folders_files_then_starts_the_service():
    assert plan() == [
        "run    useradd --system --user-group --home-dir /var/lib/piclassify --no-create-home "
        "--shell /usr/sbin/nologin piclassify",
        "mkdir  /etc/piclassify (mode 0750, root:piclassify)",
        "mkdir  /var/lib/piclassify (mode 0750, piclassify:piclassify)",
        "mkdir  /var/lib/piclassify/results (mode 0750, piclassify:piclassify)",
        "mkdir  /var/lib/piclassify/frames (mode 0750, piclassify:piclassify)",
        "mkdir  /var/lib/piclassify/examples (mode 0750, piclassify:piclassify)",
        "mkdir  /var/lib/piclassify/models (mode 0750, piclassify:piclassify)",
        "write  /etc/systemd/system/piclassify.service (mode 0644, root:root, 7 bytes)",
        "write  /etc/piclassify/piclassify.toml (mode 0640, root:piclassify, 17 bytes)",
        "run    systemctl daemon-reload",
        "run    systemctl enable --now piclassify.service",
    ]


def test_a_reinstall_keeps_the_user_and_the_config():
    steps = plan(user_exists=True, config_exists=True)
    assert not any("useradd" in step or "piclassify.toml" in step for step in steps)
    assert steps[-1] == "run    systemctl enable --now piclassify.service"


def test_a_missing_device_group_is_created_first():
    assert plan(missing_groups=["gpio"])[0] == "run    groupadd --system gpio"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="piclassify")
    add_service_commands(root.add_subparsers(dest="command", required=True))
    return root


def test_the_service_command_takes_a_config_path():
    args = parser().parse_args(["service", "--config", "/tmp/p.toml"])
    assert args.config == Path("/tmp/p.toml") and callable(args.func)
    assert parser().parse_args(["service"]).config == Path("/etc/piclassify/piclassify.toml")


def test_install_service_dry_run_prints_every_step_and_does_nothing(monkeypatch, capsys):
    for step in (RunCommand, MakeDirectory, WriteFile):
        monkeypatch.setattr(step, "apply", lambda self: pytest.fail(f"dry run applied {self}"))
    monkeypatch.setattr(install.os, "geteuid", lambda: 0)
    monkeypatch.setattr(install.os, "access", lambda path, mode: path == "/opt/piclassify/venv/bin/piclassify")
    args = parser().parse_args(["install-service", "--dry-run"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed and all(line.startswith("would ") for line in printed)
    assert printed[-1] == "would run    systemctl enable --now piclassify.service"


def test_install_service_refuses_to_run_without_root(tmp_path, monkeypatch):
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    with pytest.raises(install.InstallError, match="must run as root"):
        install.install_service(dry_run=False, layout=Layout(tmp_path, tmp_path, tmp_path))


def test_the_dry_run_finds_what_the_real_run_would_stop_on(tmp_path, monkeypatch, capsys):
    """From a venv that is not the unit's (the demo's .venv-device, say) and without root: both said, exit 2."""
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(install.os, "access", lambda path, mode: False)
    monkeypatch.setattr(install.sys, "executable", "/home/pi/piclassify/.venv-device/bin/python")
    layout = Layout(tmp_path / "units", tmp_path / "etc", tmp_path / "state")
    assert install.install_service(dry_run=True, layout=layout) == 2
    stops = [line for line in capsys.readouterr().out.splitlines() if line.startswith("would stop")]
    assert len(stops) == 2 and "must run as root" in stops[0]
    assert "/opt/piclassify/venv/bin/piclassify (the unit's ExecStart) not found: this piclassify is " \
           "/home/pi/piclassify/.venv-device/bin/piclassify" in stops[1]
    monkeypatch.setattr(install.os, "geteuid", lambda: 0)
    with pytest.raises(install.InstallError) as real:
        install.install_service(dry_run=False, layout=layout)
    assert stops[1] == f"would stop before the first step: {real.value}"
    assert not (tmp_path / "units").exists(), "the real run stopped before its first step"


def test_under_journald_log_lines_carry_a_priority_and_no_timestamp():
    stream = io.StringIO()
    configure_logging("info", environ={"JOURNAL_STREAM": "8:1234"}, stream=stream)
    try:
        logging.getLogger("piclassify.device.service.runner").warning("camera lost: %s", "gone\nreally")
        logging.getLogger("piclassify.device.service.runner").debug("not at info level")
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    assert stream.getvalue() == "<4>piclassify.device.service.runner: camera lost: gone\n<4>really\n"


def test_run_by_hand_log_lines_carry_time_and_level():
    stream = io.StringIO()
    configure_logging("info", environ={}, stream=stream)
    try:
        logging.getLogger("piclassify.device.service.runner").info("started")
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO piclassify\.device\.service.runner: started\n",
                        stream.getvalue())
