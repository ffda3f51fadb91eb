"""A token bucket: how often something costly may happen, for all who ask together (the web view's reads of the
results log, its uploads; the teach panel's model loads)."""

from __future__ import annotations

import threading
import time


class RateLimit:
    """A token bucket of ``rate`` tokens a second, ``burst`` at most. ``take(cost)`` waits for its tokens in turn
    (a client that asks again at once is slowed down, not answered more often) or, when that would be longer
    than ``wait_s``, is False at once."""

    def __init__(self, rate: float, burst: int, wait_s: float) -> None:
        self.rate, self.burst, self.wait_s = rate, burst, wait_s
        self._tokens, self._at = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self, cost: float) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            delay = max(0.0, cost - self._tokens) / self.rate
            if delay > self.wait_s:
                return False
            self._tokens -= cost  # reserved: later requests wait behind this one
        time.sleep(delay)
        return True
