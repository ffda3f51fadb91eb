"""``piclassify install-service``: unit, config, user and folders in place, then the service started.

The plan is a list of steps computed from what is already on the machine, so ``--dry-run``
prints exactly what a real run would do and tests check the plan without root.

Root never follows a symlink here: the service user owns ``results/`` and ``frames/`` and could
replace one by a link to ``/etc``, so folders are changed through a descriptor opened with
``O_NOFOLLOW`` (``fchmod``/``fchown``), and files are written as every file is
(``shared.files.atomic_file``), through ``<name>.new``, with their exact mode and owner.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from piclassify.device.config import ConfigError, ServiceConfig, load_config, parse_config, tomllib
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import write_atomically

SERVICE_USER = "piclassify"
UNIT_NAME = "piclassify.service"
NETWORK_DROPIN = "network.conf"  # IP for the web view and MQTT; the unit alone allows only AF_UNIX
# Owners of the camera and GPIO device nodes on Raspberry Pi OS; the unit's SupplementaryGroups.
DEVICE_GROUPS = ("video", "gpio")

def _templates_dir() -> Path:
    """``systemd/`` of a checkout, else the copy a wheel installs under ``<prefix>/share/piclassify``."""
    checkout = Path(__file__).resolve().parents[2] / "systemd"
    installed = Path(sys.prefix) / "share" / "piclassify" / "systemd"
    return checkout if (checkout / UNIT_NAME).is_file() else installed


TEMPLATES = _templates_dir()


class InstallError(PiclassifyError):
    """install-service cannot run here: not root, a template missing, or a step failed."""


@dataclass(frozen=True)
class Layout:
    """Where the installed files live; tests point it elsewhere."""

    unit_dir: Path = Path("/etc/systemd/system")
    config_dir: Path = Path("/etc/piclassify")
    state_dir: Path = Path("/var/lib/piclassify")

    @property
    def config_file(self) -> Path:
        return self.config_dir / "piclassify.toml"

    @property
    def dropin_dir(self) -> Path:
        return self.unit_dir / f"{UNIT_NAME}.d"


@dataclass(frozen=True)
class RunCommand:
    argv: tuple[str, ...]

    def describe(self) -> str:
        return "run    " + " ".join(shlex.quote(arg) for arg in self.argv)

    def apply(self) -> None:
        try:
            subprocess.run(self.argv, check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise InstallError(f"{self.argv[0]}: {error}") from error


@dataclass(frozen=True)
class MakeDirectory:
    path: Path
    mode: int
    owner: str
    group: str

    def describe(self) -> str:
        return f"mkdir  {self.path} (mode {self.mode:04o}, {self.owner}:{self.group})"

    def apply(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
                raise InstallError(f"{self.path} is a symbolic link or a file, not a folder: not changing it; "
                                   "remove it and run install-service again") from error
            raise InstallError(f"{self.path}: cannot create: {error.strerror or error}") from error
        try:
            os.fchmod(fd, self.mode)
            os.fchown(fd, _uid(self.owner), _gid(self.group))
        except OSError as error:
            raise InstallError(f"{self.path}: cannot set mode and owner: {error.strerror or error}") from error
        finally:
            os.close(fd)


@dataclass(frozen=True)
class WriteFile:
    path: Path
    text: str
    mode: int
    group: str = "root"

    def describe(self) -> str:
        return f"write  {self.path} (mode {self.mode:04o}, root:{self.group}, {len(self.text.encode())} bytes)"

    def apply(self) -> None:
        partial = self.path.with_name(self.path.name + ".new")
        try:
            write_atomically(self.path, self.text.encode("utf-8"), self.mode, temporary=partial,
                             owner=(0, _gid(self.group)), exact_mode=True)
        except OSError as error:
            raise InstallError(f"{partial}: cannot write: {error.strerror or error}") from error


@dataclass(frozen=True)
class RemoveFile:
    path: Path

    def describe(self) -> str:
        return f"remove {self.path}"

    def apply(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            raise InstallError(f"{self.path}: cannot remove: {error.strerror or error}") from error


Step = Union[RunCommand, MakeDirectory, WriteFile, RemoveFile]


def install_commands(unit_text: str, config_text: str, *, user_exists: bool, missing_groups: Iterable[str],
                     config_exists: bool, network_text: Optional[str] = None, dropin_exists: bool = False,
                     layout: Layout = Layout()) -> list[Step]:
    """The steps, in order; an existing config is left alone so a reinstall keeps the user's settings.

    ``network_text`` is the drop-in that lets the service use IP, given when its config turns on the
    web view or MQTT; without it, a drop-in left from before is removed.
    """
    user = SERVICE_USER
    steps: list[Step] = [RunCommand(("groupadd", "--system", group)) for group in missing_groups]
    if not user_exists:
        steps.append(RunCommand(("useradd", "--system", "--user-group", "--home-dir", str(layout.state_dir),
                                 "--no-create-home", "--shell", "/usr/sbin/nologin", user)))
    steps += [
        MakeDirectory(layout.config_dir, 0o750, "root", user),
        MakeDirectory(layout.state_dir, 0o750, user, user),
        MakeDirectory(layout.state_dir / "results", 0o750, user, user),
        MakeDirectory(layout.state_dir / "frames", 0o750, user, user),
        MakeDirectory(layout.state_dir / "examples", 0o750, user, user),  # the web view's teach panel
        MakeDirectory(layout.state_dir / "models", 0o750, user, user),
        WriteFile(layout.unit_dir / UNIT_NAME, unit_text, 0o644),
    ]
    if network_text is not None:
        steps += [MakeDirectory(layout.dropin_dir, 0o755, "root", "root"),
                  WriteFile(layout.dropin_dir / NETWORK_DROPIN, network_text, 0o644)]
    elif dropin_exists:
        steps.append(RemoveFile(layout.dropin_dir / NETWORK_DROPIN))
    if not config_exists:
        steps.append(WriteFile(layout.config_file, config_text, 0o640, group=user))
    steps += [
        RunCommand(("systemctl", "daemon-reload")),
        RunCommand(("systemctl", "enable", "--now", UNIT_NAME)),
    ]
    return steps


def install_service(dry_run: bool, layout: Layout = Layout(), templates: Path = TEMPLATES,
                    say: Callable[[str], None] = print) -> int:
    """Install (or, with ``dry_run``, only print) every step; ``InstallError`` names what stopped it."""
    unit_text = _read_template(templates / UNIT_NAME)
    config_text = _read_template(templates / "piclassify.toml")
    problems = blockers(unit_text, templates)
    if problems and not dry_run:
        raise InstallError(problems[0])
    config_exists = layout.config_file.exists()
    network = _config_in_effect(layout.config_file if config_exists else None, config_text).uses_network()
    steps = install_commands(unit_text, config_text, user_exists=_exists(pwd.getpwnam, SERVICE_USER),
                             missing_groups=[group for group in DEVICE_GROUPS if not _exists(grp.getgrnam, group)],
                             config_exists=config_exists,
                             network_text=_read_template(templates / NETWORK_DROPIN) if network else None,
                             dropin_exists=(layout.dropin_dir / NETWORK_DROPIN).exists(), layout=layout)
    if config_exists:
        say(f"keep   {layout.config_file} (already there; the new example is {templates / 'piclassify.toml'})")
    for step in steps:
        say(("would " if dry_run else "") + step.describe())
        if not dry_run:
            step.apply()
    for problem in problems:  # a dry run finds what the real one would stop on
        say(f"would stop before the first step: {problem}")
    return 2 if problems else 0


def blockers(unit_text: str, templates: Path) -> list[str]:
    """What stops a real run before its first step, which a dry run reports too: not root; no program where the
    unit's ExecStart looks (a venv elsewhere, under /home say, is not what the unit starts, nor could it)."""
    found = []
    if os.geteuid() != 0:
        found.append("install-service must run as root (try: sudo piclassify install-service)")
    executable = exec_start(unit_text)
    if not os.access(executable, os.X_OK):
        running = Path(sys.executable).parent / "piclassify"
        found.append(f"{executable} (the unit's ExecStart) not found: this piclassify is {running}; create the venv "
                     f"there first and install piclassify into it (home folders are hidden from the service), see "
                     f"{templates / 'README.md'}")
    return found


def _config_in_effect(existing: Optional[Path], example_text: str) -> ServiceConfig:
    """The config the service will run with: the one already installed, else the example about to be."""
    try:
        return load_config(existing) if existing is not None else parse_config(tomllib.loads(example_text))
    except ConfigError as error:
        raise InstallError(f"{error}; fix it, then run install-service again") from None


def exec_start(unit_text: str) -> str:
    """The program the unit starts: the first word of its ExecStart= line."""
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line[len("ExecStart="):])[0]
    raise InstallError(f"{UNIT_NAME} has no ExecStart= line")


def _read_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InstallError(f"{path}: cannot read: {error.strerror or error}") from error


def _uid(user: str) -> int:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise InstallError(f"no user {user!r}") from None


def _gid(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise InstallError(f"no group {group!r}") from None


def _exists(lookup: Callable[[str], object], name: str) -> bool:
    """Whether ``pwd.getpwnam`` (a user) or ``grp.getgrnam`` (a group) knows ``name``."""
    try:
        lookup(name)
    except KeyError:
        return False
    return True
