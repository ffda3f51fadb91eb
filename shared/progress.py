"""Progress on long work, on both sides: a bar on a terminal, a line every tenth of the way elsewhere.

``Progress`` is one stage of work: on a terminal a bar that updates in place with the time left,
elsewhere (a CI log, a pipe, the journal) a line every tenth of the way. The trainer fits heads and
renders photos with it, the Pi teaches with it.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, TextIO

BAR = 24


class Console:
    """The trainer's ``log``: a line to the user's terminal (or stdout); ``Progress`` draws its bar on ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class Progress:
    """One stage of work (``with Progress("extracting features", log, total=2000) as p: ... p.advance()``).

    ``log`` is a ``Console`` (a bar that updates in place on a terminal) or any function taking a line.
    """

    def __init__(self, what: str, log: Callable[[str], None], total: Optional[int] = None) -> None:
        self.what, self.log, self.total = what, log, total
        self.stream: Optional[TextIO] = getattr(log, "stream", None)
        stream = self.stream
        self.done = 0
        self.started = time.monotonic()
        self._shown_tenth = 0  # a line at each tenth of the way, none at the start
        self._live = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def __enter__(self) -> "Progress":
        if not self._live:
            self.log(f"{self.what}{f' ({self.total:,})' if self.total else ''} ...")
        return self

    def note(self, text: str) -> None:
        """A detail of this stage, on a line of its own."""
        self._clear()
        self.log(f"  {text}")

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.total:
            return
        if self._live:
            self._draw()
            return
        tenth = int(10 * self.done / self.total)
        if self._shown_tenth < tenth < 10:
            self._shown_tenth = tenth
            self.log(f"  {self.what}: {self.done:,}/{self.total:,}{self._eta()}")

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.started
        if not self.done or not self.total or self.done >= self.total:
            return ""
        return f", about {_duration(elapsed / self.done * (self.total - self.done))} left"

    def _draw(self) -> None:
        if self.stream is None or not self.total:
            return
        filled = int(BAR * self.done / self.total)
        self.stream.write(f"\r{self.what} [{'#' * filled}{'.' * (BAR - filled)}] {self.done:,}/{self.total:,}"
                          f"{self._eta()}\033[K")
        self.stream.flush()

    def _clear(self) -> None:
        if self._live and self.stream is not None:
            self.stream.write("\r\033[K")

    def __exit__(self, kind, error, trace) -> None:
        self._clear()
        if kind is None:
            self.log(f"{self.what}: done in {_duration(time.monotonic() - self.started)}")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"
