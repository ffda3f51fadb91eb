"""The web view's defences: what any one client, or all of them together, can take from the Pi.

Connections beyond ``MAX_CONNECTIONS`` are answered 503 at once and closed; live streams and event
streams are counted slots; a client that trickles its request line and headers a byte at a time is
cut off at ``HEADER_DEADLINE_S``, and its body at ``BODY_DEADLINE_S`` (``UPLOAD_DEADLINE_S`` for a
picture); request bodies are bounded; ``/api/results`` reads the results log within one budget of
lines a second for all clients (reading it costs the loop's process CPU, and classifying comes first).

Uploads (a photo from a phone, the page's drawing) are a person's actions: at most ``MAX_UPLOADS``
connections send one at once (more get 503 before their body is read), all of them together at most
``UPLOADS_PER_S`` a second (429 beyond), and one is decoded and classified at a time
(``DECODING``, 503 after ``DECODE_WAIT_S``). So a crowd of clients holds a few bodies in memory, not
gigabytes, and the loop keeps its CPU. Classifying never waits for any of these.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Optional

from piclassify.device.core.rate_limit import RateLimit

SOCKET_TIMEOUT_S = 10.0
HEADER_DEADLINE_S = 10.0  # the whole request line and headers, however slowly they trickle in
BODY_DEADLINE_S = 10.0  # a small body (a few form fields), however slowly it trickles in
UPLOAD_DEADLINE_S = 30.0  # a picture's body: 8 MiB at 2 Mbit/s
MAX_CONNECTIONS = 64  # streams included; beyond this a connection gets 503 and is closed
MAX_BODY = 4096
MAX_UPLOAD = 8 << 20  # a POST that carries a picture: a phone's photo, or the page's drawing
MAX_UPLOADS = 4  # connections sending a picture at once: 32 MiB of bodies at most
UPLOADS_PER_S = 2.0  # pictures classified a second, all clients together (a few in a burst)
UPLOAD_BURST = 4
UPLOAD_WAIT_S = 3.0  # an upload over the budget waits this long for its turn at most, then gets 429
LINGER_S = 2.0  # a refused upload's body is read and dropped this long at most, so that the refusal arrives
DECODING = 1  # pictures decoded and classified at once
DECODE_WAIT_S = 10.0  # an upload waits this long for the decoder at most, then gets 503
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


class Deadlines:
    """Connections still sending their request line and headers (or their body), each shut down once its deadline
    has passed: a client that trickles a byte now and then (each one resets the socket's timeout) cannot hold a
    connection for ever. One thread for the server checks twice a second."""

    def __init__(self, closed: threading.Event) -> None:
        self._pending: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._closed = closed
        threading.Thread(target=self._reap, name="web-header-deadlines", daemon=True).start()

    def start(self, connection: socket.socket, seconds: Optional[float] = None) -> None:
        """``connection`` is cut off after ``seconds`` (default ``HEADER_DEADLINE_S``) unless ``done`` first."""
        with self._lock:
            self._pending[connection] = time.monotonic() + (HEADER_DEADLINE_S if seconds is None else seconds)

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


def results_budget() -> RateLimit:
    """One server's budget for reading the results log: ``RESULTS_LINES_PER_S``, shared by every client."""
    return RateLimit(RESULTS_LINES_PER_S, RESULTS_BURST, RESULTS_WAIT_S)


def upload_budget() -> RateLimit:
    """One server's budget for pictures: ``UPLOADS_PER_S``, shared by every client."""
    return RateLimit(UPLOADS_PER_S, UPLOAD_BURST, UPLOAD_WAIT_S)


def refuse(request: socket.socket) -> None:
    """A connection beyond ``MAX_CONNECTIONS``: 503 at once, without a thread, and closed."""
    try:
        request.settimeout(1.0)
        request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        request.close()
