"""Waiting longer after each failure: a lost camera is reopened, a failing output retried, without spinning."""

from __future__ import annotations


class Backoff:
    """Delays of ``initial`` seconds, doubling each failure, never above ``cap``; ``reset`` after a success."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0) -> None:
        self.initial = initial
        self.cap = cap
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.initial
