"""The web view's defences: what any one client, or all of them together, can take from the Pi.

Connections beyond ``MAX_CONNECTIONS`` are answered 503 at once and closed; live streams and event
streams are counted slots; a client that trickles its request line and headers a byte at a time is
cut off at ``HEADER_DEADLINE_S``; request bodies are bounded; ``/api/results`` reads the results log
within one budget of lines a second for all clients (reading it costs the loop's process CPU, and
classifying comes first). Classifying never waits for any of these.
"""

from __future__ import annotations

import socket
import threading
import time

SOCKET_TIMEOUT_S = 10.0
HEADER_DEADLINE_S = 10.0  # the whole request line and headers, however slowly they trickle in
MAX_CONNECTIONS = 64  # streams included; beyond this a connection gets 503 and is closed
MAX_BODY = 4096
MAX_UPLOAD = 8 << 20  # a POST that carries a picture: a phone's photo, or the page's drawing
RESULTS_LINES_PER_S = 5000.0  # /api/results reads at most this many log lines a second (all clients together)
RESULTS_BURST = 10000  # ... after a burst of this many
RESULTS_WAIT_S = 2.0  # a request over the budget waits for its turn this long at most, then gets 429


class Slots:
    """A counted limit: ``take`` fails (rather than waits) when all are in use."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.used -= 1


class HeaderDeadlines:
    """Connections still sending their request line and headers, each shut down once ``HEADER_DEADLINE_S`` has
    passed: a client that trickles a byte now and then (each one resets the socket's timeout) cannot hold a
    connection for ever. One thread for the server checks twice a second."""

    def __init__(self, closed: threading.Event) -> None:
        self._pending: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._closed = closed
        threading.Thread(target=self._reap, name="web-header-deadlines", daemon=True).start()

    def start(self, connection: socket.socket) -> None:
        with self._lock:
            self._pending[connection] = time.monotonic() + HEADER_DEADLINE_S

    def done(self, connection: socket.socket) -> None:
        with self._lock:
            self._pending.pop(connection, None)

    def _reap(self) -> None:
        while not self._closed.wait(0.5):
            now = time.monotonic()
            with self._lock:
                late = [connection for connection, deadline in self._pending.items() if deadline <= now]
                for connection in late:
                    del self._pending[connection]
            for connection in late:
                try:
                    connection.shutdown(socket.SHUT_RDWR)  # its thread's read returns at once, and it closes
                except OSError:
                    pass


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


def results_budget() -> RateLimit:
    """One server's budget for reading the results log: ``RESULTS_LINES_PER_S``, shared by every client."""
    return RateLimit(RESULTS_LINES_PER_S, RESULTS_BURST, RESULTS_WAIT_S)


def refuse(request: socket.socket) -> None:
    """A connection beyond ``MAX_CONNECTIONS``: 503 at once, without a thread, and closed."""
    try:
        request.settimeout(1.0)
        request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        request.close()
