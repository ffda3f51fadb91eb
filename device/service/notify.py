"""sd_notify: tell systemd the service is ready, alive, reloading or stopping.

Written by hand (one datagram per message on the socket named by ``NOTIFY_SOCKET``) because the
protocol is twenty lines and the alternatives (python-systemd, sdnotify) are extra packages to
build or trust on the Pi. Without ``NOTIFY_SOCKET`` (run by hand, or in tests) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Mapping, Optional

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``KEY=value`` lines to systemd; never raises, since a lost status must not stop the service."""

    def __init__(self, address: Optional[str], watchdog_usec: Optional[int] = None) -> None:
        # A leading "@" names a socket in the abstract namespace, spelled with a NUL byte to the kernel.
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self.watchdog_usec = watchdog_usec
        self._socket: Optional[socket.socket] = None
        self._warned = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> "Notifier":
        """The notifier systemd asked for; the watchdog only applies if it is meant for this process."""
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        watchdog = int(usec) if usec.isdigit() and int(usec) > 0 and mine else None
        return cls(environ.get("NOTIFY_SOCKET") or None, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> Optional[float]:
        """Seconds between ``WATCHDOG=1`` pings: half the timeout, as sd_watchdog_enabled(3) advises."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def reloading(self) -> None:
        # MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match this message to its SIGHUP.
        self.send(RELOADING="1", MONOTONIC_USEC=str(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))

    def stopping(self) -> None:
        self.send(STOPPING="1")

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def heartbeat(self, status: str, extend_start_s: Optional[float] = None) -> None:
        """STATUS, plus WATCHDOG=1 when systemd watches us, plus more start-up time while waiting for a camera."""
        fields = {"STATUS": status}
        if self.watchdog_usec:
            fields["WATCHDOG"] = "1"
        if extend_start_s is not None:
            fields["EXTEND_TIMEOUT_USEC"] = str(int(extend_start_s * 1e6))
        self.send(**fields)

    def send(self, **fields: str) -> None:
        if self.address is None:
            return
        message = "\n".join(f"{key}={value.replace(chr(10), ' ')}" for key, value in fields.items())
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message.encode("utf-8"), self.address)
        except OSError as error:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address.replace("\0", "@"), error)
                self._warned = True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
