"""Log lines for the journal: under systemd, ``<N>`` priority prefixes and no timestamps of our own.

journald stamps every line itself and reads a leading ``<N>`` as its syslog priority, so
``journalctl -p warning`` finds camera faults; run by hand, lines carry a time and a level instead.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Mapping, Optional, TextIO

# logging level -> syslog priority (sd-daemon(3): <3> error, <4> warning, <6> info, <7> debug)
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def under_journald(environ: Mapping[str, str] = os.environ) -> bool:
    """systemd sets ``JOURNAL_STREAM`` when stderr is the journal and ``INVOCATION_ID`` for every service."""
    return "JOURNAL_STREAM" in environ or "INVOCATION_ID" in environ


class JournalFormatter(logging.Formatter):
    """``<6>piclassify.device.service.runner: message``; every line of a traceback carries the prefix too."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def syslog_priority(levelno: int) -> int:
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return 7


def configure_logging(level: str = "info", environ: Mapping[str, str] = os.environ,
                      stream: Optional[TextIO] = None) -> None:
    """Send every log record to stderr (the journal under systemd) at ``level`` and above."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if under_journald(environ):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
