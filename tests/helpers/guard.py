"""A hang guard for bounded fuzzing: a case that runs far longer than any real one is a failure, not a wait."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

CASE_GUARD_S = 10.0  # far above any real case (milliseconds); not a timing assertion


class Hang(Exception):
    """A case ran past ``CASE_GUARD_S``."""


@contextmanager
def guard(seconds: float = CASE_GUARD_S) -> Iterator[None]:
    """Raise ``Hang`` in this (main) thread if the block runs longer than ``seconds``, blocking calls included."""
    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
