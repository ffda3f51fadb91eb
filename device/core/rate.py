"""Frames classified per second: one measure, read by every output that shows a rate (STATUS, the web view).

A growing total (``LoopCounts.classified``) is sampled at most every 0.1 s, by the loop as it classifies and by
whoever asks; the rate is over about the last two seconds, so it falls to 0 when frames stop coming.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Optional

WINDOW_S = 2.0


class Rate:
    """Events per second over about the last ``window_s`` seconds, from a growing total sampled when given."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._lock = threading.Lock()

    def __call__(self, total: int) -> Optional[float]:
        """Note ``total`` now; the rate since about ``window_s`` ago, or None while less than 0.2 s is known."""
        now = time.monotonic()
        with self._lock:
            samples = self._samples
            if not samples or now - samples[-1][0] >= 0.1:
                samples.append((now, total))
            while len(samples) > 2 and now - samples[1][0] >= self.window_s:
                samples.popleft()
            start, count = samples[0]
            return (total - count) / (now - start) if now - start >= 0.2 else None
