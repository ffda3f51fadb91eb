"""The web view's HTTP server: the standard library's ``ThreadingHTTPServer``, one daemon thread per connection.

This is the plumbing every request goes through; what each path answers is in ``routes`` (pages,
pictures, the API), ``streams`` (the MJPEG and event streams) and ``teach_api`` (the teach panel).
Routes are a fixed table of exact paths; nothing is ever read from disk by a request's path, so
``/../../etc/passwd`` is just an unknown path (404). Malformed requests, oversized headers and
unknown methods get a 4xx from ``http.server`` itself, never a traceback. Every socket has a timeout,
and the limits in ``limits`` hold for every connection. Requests are logged at debug level, with the
query string (where a token may be) left out.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs, urlsplit

from piclassify.device.sinks.web import limits
from piclassify.device.sinks.web.auth import Access, WebError, check_listen
from piclassify.device.sinks.web.state import WebState

log = logging.getLogger(__name__)

WAIT_SLICE_S = 1.0  # a request waits for the loop this long at a time; streams look for a client gone this often
_TOKEN_IN_TEXT = re.compile(r"token=[^&\s'\"]*|Bearer\s+\S+", re.IGNORECASE)  # a bad request line may hold one

Query = dict[str, list[str]]
Route = Callable[["Handler", Query], None]


@dataclass(frozen=True)
class Routes:
    """What each exact path answers, by method; ``uploads``: the POST paths whose body may be a picture."""

    get: Mapping[str, Route]
    post: Mapping[str, Route]
    uploads: frozenset[str] = frozenset()


class WebServer(ThreadingHTTPServer):
    """Serves one ``WebState`` through ``routes``; bound on creation (``WebError`` if the address is taken)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 32

    def __init__(self, state: WebState, routes: Routes, host: str, port: int, token: Optional[str],
                 max_streams: int, stream_fps: float) -> None:
        check_listen(host, token)
        self.state = state
        self.routes = routes
        self.access = Access(token)
        self.streams = limits.Slots(max_streams)
        self.event_streams = limits.Slots(max_streams)
        self.connections = limits.Slots(limits.MAX_CONNECTIONS)
        self.results_rate = limits.results_budget()
        self._stopped = threading.Event()
        self.deadlines = limits.Deadlines(self._stopped)
        self.uploads = limits.Slots(limits.MAX_UPLOADS)
        self.upload_rate = limits.upload_budget()
        self.decoding = threading.BoundedSemaphore(limits.DECODING)
        self.frame_period = 1.0 / stream_fps
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), Handler)
        except OSError as error:
            raise WebError(f"cannot serve the web view on {host}:{port}: {error.strerror or error}") from None
        log.info("web view on http://%s:%d/%s", f"[{host}]" if ":" in host else host, self.server_address[1],
                 "" if token is None else " (token required)")

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.take():
            limits.refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.give()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.give()

    def server_close(self) -> None:
        self._stopped.set()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("web: request from %s failed", client_address[0], exc_info=True)


class Handler(BaseHTTPRequestHandler):
    """One connection: its request checked, dispatched to its route, answered through ``reply*``."""

    server: WebServer
    server_version = "piclassify"
    sys_version = ""
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # answers to requests too broken to say their version get a status line
    timeout = limits.SOCKET_TIMEOUT_S
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    body = b""

    def setup(self) -> None:
        super().setup()
        self.server.deadlines.start(self.connection)

    def finish(self) -> None:
        self.server.deadlines.done(self.connection)
        super().finish()

    # -- dispatch ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(self.server.routes.get)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        upload = urlsplit(self.path).path in self.server.routes.uploads
        if not 0 <= length <= (limits.MAX_UPLOAD if upload else limits.MAX_BODY):
            self.reply_error(HTTPStatus.BAD_REQUEST if length < 0 else HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        if not upload:
            if self._read_body(length, limits.BODY_DEADLINE_S):
                self._dispatch(self.server.routes.post)
            return
        server = self.server
        if not server.uploads.take():  # refused before its body is read: a crowd holds no memory
            self._refuse_upload(HTTPStatus.SERVICE_UNAVAILABLE, f"busy: at most {server.uploads.limit} uploads at "
                                "once", length)
            return
        try:
            if not server.upload_rate.take(1):
                self._refuse_upload(HTTPStatus.TOO_MANY_REQUESTS, f"busy: at most {server.upload_rate.rate:g} uploads "
                                    "a second are classified for all clients together", length)
            elif self._read_body(length, limits.UPLOAD_DEADLINE_S):
                self._dispatch(server.routes.post)
        finally:
            server.uploads.give()

    def _refuse_upload(self, code: int, message: str, length: int) -> None:
        """Answer, then drop what the client still sends of its body for a moment (``limits.LINGER_S``), a chunk at a
        time: a socket closed with unread data resets, and the client would never see why."""
        self.close_connection = True
        self.reply(code, json.dumps({"error": message}).encode("utf-8"), "application/json; charset=utf-8",
                   {"Retry-After": "2"})
        self.wfile.flush()
        deadline, scratch = time.monotonic() + limits.LINGER_S, memoryview(bytearray(1 << 18))
        try:
            self.connection.settimeout(limits.LINGER_S)
            while length > 0 and time.monotonic() < deadline:
                count = self.rfile.readinto1(scratch[:length])
                if not count:
                    break
                length -= count
        except OSError:
            pass

    def _read_body(self, length: int, deadline_s: float) -> bool:
        """The body, within ``deadline_s`` however slowly it trickles in; False (and the connection closed) when it
        did not all come. Read even when unused, so closing does not reset the connection."""
        self.server.deadlines.start(self.connection, deadline_s)
        try:
            self.body = self.rfile.read(length)
        except OSError:  # it stalled past the socket's timeout, or went away
            self.body = b""
        finally:
            self.server.deadlines.done(self.connection)
        if len(self.body) == length:
            return True
        self.close_connection = True  # cut off: there is no one left to answer
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not http.server's 501
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self.reply_error(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": "GET, POST"})

    def _dispatch(self, routes: Mapping[str, Route]) -> None:
        url = urlsplit(self.path)
        if not self.path.startswith("/"):
            self.reply_error(HTTPStatus.BAD_REQUEST)
            return
        route = routes.get(url.path)
        if route is None:
            if url.path in self.server.routes.get or url.path in self.server.routes.post:
                self._not_allowed()
            else:
                self.reply_error(HTTPStatus.NOT_FOUND)
            return
        try:
            query = parse_qs(url.query, max_num_fields=10)
        except ValueError:
            self.reply_error(HTTPStatus.BAD_REQUEST)
            return
        if url.path != "/healthz" and not self.server.access.allowed(self.headers, first(query, "token")):
            if self.server.access.needs_token:
                self.reply_error(HTTPStatus.UNAUTHORIZED, "a token is needed: Authorization: Bearer TOKEN, or "
                                 "?token=", headers={"WWW-Authenticate": 'Bearer realm="piclassify"'})
            else:
                self.reply_error(HTTPStatus.FORBIDDEN, "this address serves loopback host names only")
            return
        route(self, query)

    def parse_request(self) -> bool:
        self.server.deadlines.done(self.connection)  # the request line is in; the headers follow at once
        if not self.raw_requestline.strip():  # http.server closes silently; a client deserves an answer
            self.command, self.request_version, self.requestline = "", self.default_request_version, ""
            self.close_connection = True
            self.send_error(HTTPStatus.BAD_REQUEST, "empty request line")
            return False
        self.server.deadlines.start(self.connection)  # a fresh deadline for the headers
        try:
            return super().parse_request()
        finally:
            self.server.deadlines.done(self.connection)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # http.server's own answers to bad requests: an unsupported HTTP version is the client's fault too.
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = HTTPStatus.BAD_REQUEST, "unsupported HTTP version"
        super().send_error(code, message, explain)

    # -- logging: debug only, and never the query (it may hold the token) ---------------------------

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = urlsplit(self.path).path if isinstance(getattr(self, "path", None), str) else "-"
        log.debug("web: %s %s %s %s", self.client_address[0], getattr(self, "command", None) or "-", path[:200],
                  getattr(code, "value", code))

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("web: %s: %s", self.client_address[0], _TOKEN_IN_TEXT.sub("token=...", format % args))

    # -- answers, for the routes ------------------------------------------------------------------

    def reply_headers(self, code: int, content_type: str, length: Optional[int] = None,
                      headers: Optional[Mapping[str, str]] = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def reply(self, code: int, body: bytes, content_type: str, headers: Optional[Mapping[str, str]] = None) -> None:
        self.reply_headers(code, content_type, len(body), headers)
        self.wfile.write(body)

    def reply_json(self, value: Any, code: int = HTTPStatus.OK) -> None:
        self.reply(code, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def reply_error(self, code: int, message: Optional[str] = None,
                    headers: Optional[Mapping[str, str]] = None) -> None:
        status = HTTPStatus(code)
        body = f"{status.value} {message or status.phrase}\n".encode("utf-8")
        self.reply(status, body, "text/plain; charset=utf-8", headers)

    def same_origin(self) -> bool:
        """A POST from a page of this server (or from no browser at all); otherwise answered 403 here."""
        if Access.same_origin(self.headers):
            return True
        self.reply_error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
        return False

    def client_gone(self, within: float = 0.0) -> bool:
        """The client closed its end, now or ``within`` seconds (a stream is only ever written to, so anything
        readable means that)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], within)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def first(query: Query, key: str) -> Optional[str]:
    """The first value of ``key`` in the query string, or None."""
    values = query.get(key)
    return values[0] if values else None


def whole(text: Optional[str]) -> Optional[int]:
    """A whole number written in ASCII digits (``int`` also takes "٣", signs, spaces and underscores), or None."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) <= 20 else None
