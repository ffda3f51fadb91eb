"""The ``service`` and ``install-service`` subcommands, for ``device.commands.cli`` to add to its parser."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("/etc/piclassify/piclassify.toml")


def add_service_commands(subparsers: Any) -> None:
    """Register ``service`` and ``install-service``; each sets ``func(args) -> exit code``."""
    p = subparsers.add_parser(
        "service", help="run headless under systemd: classify, report, keep going",
        description="Classify frames continuously or on a button press, append results to a JSON-lines "
                    "file, drive LEDs and a buzzer, and talk to systemd (ready, watchdog, status). "
                    "SIGHUP reloads the config and model; SIGTERM stops after the current frame.")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help=f"TOML config; see systemd/piclassify.toml (default {DEFAULT_CONFIG})")
    p.add_argument("--example-config", action="store_true",
                   help="print the documented example config (every key, its default and meaning) and exit")
    p.set_defaults(func=_run_service)

    p = subparsers.add_parser(
        "install-service", help="install and start the systemd service (as root)",
        description="Create the piclassify user and folders, install the unit and an example config "
                    "(an existing config is kept), then systemctl daemon-reload and enable --now.")
    p.add_argument("--dry-run", action="store_true", help="print each step without doing anything")
    p.set_defaults(func=_install_service)


def _run_service(args: argparse.Namespace) -> int:
    if args.example_config:
        from piclassify.device.config import example_config

        print(example_config(), end="")
        return 0
    from piclassify.device.service.runner import main

    return main(args.config)


def _install_service(args: argparse.Namespace) -> int:
    from piclassify.device.service.install import install_service

    return install_service(dry_run=args.dry_run)
