"""The web view's HTTP server: the standard library's ``ThreadingHTTPServer``, one daemon thread per connection.

Routes are a fixed table of exact paths; nothing is ever read from disk by a request's path, so
``/../../etc/passwd`` is just an unknown path (404). Malformed requests, oversized headers and
unknown methods get a 4xx from ``http.server`` itself, never a traceback. Every socket has a
timeout; connections beyond ``MAX_CONNECTIONS`` are answered 503 at once, live streams beyond
``max_streams`` 503 with Retry-After. A stream thread waits for the next frame (or result), sends
it, and notices a client that has gone within a second; a slow client only ever gets the newest
frame, so it never holds up the loop or other clients. Requests are logged at debug level, with
the query string (where a token may be) left out.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

from piclassify.device.sinks.web import metrics
from piclassify.device.core.model_files import resolve_bundled
from piclassify.device.teach.teacher import Teacher, TeachBusy
from piclassify.device.sinks.web.auth import Access, WebError, is_loopback
from piclassify.device.sinks.web.history import read_recent
from piclassify.device.sinks.web.page import PAGE
from piclassify.device.sinks.web.render import model_input_png
from piclassify.device.sinks.web.state import Look, WebState
from piclassify.device.sinks.web.status import healthy, status
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.imagefile import decode_image

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 10.0
HEADER_DEADLINE_S = 10.0  # the whole request line and headers, however slowly they trickle in
MAX_CONNECTIONS = 64  # streams included; beyond this a connection gets 503 and is closed
STREAM_SEND_BUFFER = 64 * 1024  # a client that stops reading fills this in a few frames, then its slot times out
RESULTS_LINES_PER_S = 5000.0  # /api/results reads at most this many log lines a second (all clients together)
RESULTS_BURST = 10000  # ... after a burst of this many
RESULTS_WAIT_S = 2.0  # a request over the budget waits for its turn this long at most, then gets 429
WAIT_SLICE_S = 1.0  # streams look for a client that has gone this often
RESEND_S = 2.0  # a stream with no new frame resends the last one this often (trigger mode)
EVENT_KEEPALIVE_S = 15.0
RESULTS_LIMIT = 100  # /api/results default; at most MAX_RESULTS
MAX_RESULTS = 1000
BOUNDARY = "piclassify-frame"
_TOKEN_IN_TEXT = re.compile(r"token=[^&\s'\"]*|Bearer\s+\S+", re.IGNORECASE)  # a bad request line may hold one
MAX_BODY = 4096
MAX_UPLOAD = 8 << 20  # POST /api/classify: a phone's photo, or the page's drawing
UPLOAD_ROUTES = ("/api/classify",)


class _Slots:
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


class _HeaderDeadlines:
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


class _RateLimit:
    """A token bucket of ``rate`` tokens a second, ``burst`` at most. ``take(cost)`` waits for its tokens in turn
    (a client that asks again at once is slowed down, not answered more often) or, when that would be longer
    than ``wait_s``, is False at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self, cost: float, wait_s: float) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            delay = max(0.0, cost - self._tokens) / self.rate
            if delay > wait_s:
                return False
            self._tokens -= cost  # reserved: later requests wait behind this one
        time.sleep(delay)
        return True


class WebServer(ThreadingHTTPServer):
    """Serves one ``WebState``; bound on creation (``WebError`` if the address is taken)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 32

    def __init__(self, state: WebState, host: str, port: int, token: Optional[str], max_streams: int,
                 stream_fps: float) -> None:
        if token is None and not is_loopback(host):
            raise WebError(f"the web view on {host} needs a token (web.token_file, or --web-token-file); only "
                           "loopback addresses (127.0.0.1, ::1) are served without one")
        self.state = state
        self.access = Access(token)
        self.streams = _Slots(max_streams)
        self.event_streams = _Slots(max_streams)
        self.connections = _Slots(MAX_CONNECTIONS)
        self.results_rate = _RateLimit(RESULTS_LINES_PER_S, RESULTS_BURST)
        self._stopped = threading.Event()
        self.header_deadlines = _HeaderDeadlines(self._stopped)
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
            _refuse(request)
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


def _refuse(request: socket.socket) -> None:
    try:
        request.settimeout(1.0)
        request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        request.close()


class Handler(BaseHTTPRequestHandler):
    server: WebServer
    server_version = "piclassify"
    sys_version = ""
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # answers to requests too broken to say their version get a status line
    timeout = SOCKET_TIMEOUT_S
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def setup(self) -> None:
        super().setup()
        self.server.header_deadlines.start(self.connection)

    def finish(self) -> None:
        self.server.header_deadlines.done(self.connection)
        super().finish()

    # -- dispatch ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(GET_ROUTES)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        limit = MAX_UPLOAD if urlsplit(self.path).path in UPLOAD_ROUTES else MAX_BODY
        if not 0 <= length <= limit:
            self._error(HTTPStatus.BAD_REQUEST if length < 0 else HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        self.body = self.rfile.read(length)  # read even when unused, so closing does not reset the connection
        self._dispatch(POST_ROUTES)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not http.server's 501
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": "GET, POST"})

    def _dispatch(self, routes: dict[str, Callable[[Handler, dict[str, list[str]]], None]]) -> None:
        url = urlsplit(self.path)
        if not self.path.startswith("/"):
            self._error(HTTPStatus.BAD_REQUEST)
            return
        route = routes.get(url.path)
        if route is None:
            other = POST_ROUTES if routes is GET_ROUTES else GET_ROUTES
            if url.path in other:
                self._not_allowed()
            else:
                self._error(HTTPStatus.NOT_FOUND)
            return
        try:
            query = parse_qs(url.query, max_num_fields=10)
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST)
            return
        if url.path != "/healthz" and not self.server.access.allowed(self.headers, _first(query, "token")):
            if self.server.access.needs_token:
                self._error(HTTPStatus.UNAUTHORIZED, "a token is needed: Authorization: Bearer TOKEN, or ?token=",
                            headers={"WWW-Authenticate": 'Bearer realm="piclassify"'})
            else:
                self._error(HTTPStatus.FORBIDDEN, "this address serves loopback host names only")
            return
        route(self, query)

    def parse_request(self) -> bool:
        self.server.header_deadlines.done(self.connection)  # the request line is in; the headers follow at once
        if not self.raw_requestline.strip():  # http.server closes silently; a client deserves an answer
            self.command, self.request_version, self.requestline = None, self.default_request_version, ""
            self.close_connection = True
            self.send_error(HTTPStatus.BAD_REQUEST, "empty request line")
            return False
        self.server.header_deadlines.start(self.connection)  # a fresh deadline for the headers
        try:
            return super().parse_request()
        finally:
            self.server.header_deadlines.done(self.connection)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # http.server's own answers to bad requests: an unsupported HTTP version is the client's fault too.
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = HTTPStatus.BAD_REQUEST, "unsupported HTTP version"
        super().send_error(code, message, explain)

    # -- logging: debug only, and never the query (it may hold the token) ---------------------------

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = urlsplit(self.path).path if isinstance(getattr(self, "path", None), str) else "-"
        log.debug("web: %s %s %s %s", self.client_address[0], getattr(self, "command", "-"), path[:200],
                  getattr(code, "value", code))

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("web: %s: %s", self.client_address[0], _TOKEN_IN_TEXT.sub("token=...", format % args))

    # -- responses --------------------------------------------------------------------------------

    def _headers(self, code: int, content_type: str, length: Optional[int] = None,
                 headers: Optional[dict[str, str]] = None) -> None:
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

    def _send(self, code: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None) -> None:
        self._headers(code, content_type, len(body), headers)
        self.wfile.write(body)

    def _json(self, value: Any, code: int = HTTPStatus.OK) -> None:
        self._send(code, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, code: int, message: Optional[str] = None, headers: Optional[dict[str, str]] = None) -> None:
        status = HTTPStatus(code)
        body = f"{status.value} {message or status.phrase}\n".encode("utf-8")
        self._send(status, body, "text/plain; charset=utf-8", headers)

    def _client_gone(self, within: float = 0.0) -> bool:
        """The client closed its end, now or ``within`` seconds (a stream is only ever written to, so anything
        readable means that)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], within)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    # -- pages and pictures -----------------------------------------------------------------------

    def page(self, query: dict[str, list[str]]) -> None:
        self.server.state.touch()
        csp = ("default-src 'none'; img-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
               "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        self._send(HTTPStatus.OK, PAGE, "text/html; charset=utf-8",
                   {"Content-Security-Policy": csp, "X-Frame-Options": "DENY"})

    def snapshot(self, query: dict[str, list[str]]) -> None:
        """The newest frame with its answer drawn on it; ``?seq=N``: frame N (see ``api_frame``)."""
        look = self._look(query)
        if look is not None:
            self._send(HTTPStatus.OK, look.jpeg, "image/jpeg")

    def model_input(self, query: dict[str, list[str]]) -> None:
        """The newest frame's exact model input; ``?seq=N``: frame N's (see ``api_frame``)."""
        state = self.server.state
        state.touch()
        if "seq" in query:
            look = self._look(query)
            if look is not None:
                self._send(HTTPStatus.OK, look.png(state.view.input_size), "image/png")
            return
        self._await_model_input()
        self._send(HTTPStatus.OK, model_input_png(state.model_input(), state.view.input_size), "image/png")

    def _await_model_input(self) -> None:
        """The loop keeps the model input only while someone watches: after a while, the next frame has it (wait up
        to a second for it)."""
        state = self.server.state
        seq, delivery = state.latest()
        deadline = time.monotonic() + WAIT_SLICE_S
        while delivery is not None and delivery.result.label is not None and delivery.model_input is None \
                and time.monotonic() < deadline:
            seq = state.wait_frame(seq, deadline - time.monotonic())
            delivery = state.latest()[1]

    def _look(self, query: dict[str, list[str]]) -> Optional[Look]:
        """The newest frame's look, or ``?seq=N``'s; None after answering why not (no frame yet; not a number; no
        longer kept: the page asks ``/api/frame`` for a newer one)."""
        state = self.server.state
        if "seq" not in query:
            look = state.look()
            if look is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", {"Retry-After": "1"})
            return look
        seq = _whole(_first(query, "seq"))
        if seq is None:
            self._error(HTTPStatus.BAD_REQUEST, "seq must be a whole number")
            return None
        look = state.look_at(seq)
        if look is None:
            self._error(HTTPStatus.NOT_FOUND, "that frame is no longer kept")
        return look

    def api_frame(self, query: dict[str, list[str]]) -> None:
        """``?after=N``: the frame the page shows next, once one newer than frame N is due (at most ``stream_fps``
        a second, the same frame for every client), else after a second the newest again: its number ``seq``
        (0: no frame yet), its result and whether that is one of the results. The page then fetches
        ``snapshot.jpg?seq=`` and ``model-input.png?seq=``: everything it shows is of that one frame."""
        after = _whole(_first(query, "after") or "0")
        if after is None:
            self._error(HTTPStatus.BAD_REQUEST, "after must be a whole number")
            return
        state = self.server.state
        state.touch()
        self._await_model_input()
        look = state.next_look(after, self.server.frame_period, WAIT_SLICE_S)
        if look is None:
            self._json({"seq": 0, "result": None, "listed": False})
            return
        self._json({"seq": look.seq, "result": look.published.record(), "listed": look.listed})

    def stream(self, query: dict[str, list[str]]) -> None:
        """MJPEG: the newest frame at most ``stream_fps`` times a second, the same one (one encoding) for every
        client; frames in between are dropped. With no new frame, the last is sent again every ``RESEND_S``."""
        server, state = self.server, self.server.state
        if not server.streams.take():
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"at most {server.streams.limit} live streams at once",
                        {"Retry-After": "5"})
            return
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SEND_BUFFER)
            self._headers(HTTPStatus.OK, f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            sent_seq, sent_at = 0, 0.0
            while not state.closed.is_set():
                state.touch()
                look = state.next_look(sent_seq, server.frame_period, WAIT_SLICE_S)
                if self._client_gone():
                    break
                if look is None or (look.seq == sent_seq and time.monotonic() - sent_at < RESEND_S):
                    continue
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(look.jpeg)}"
                                 "\r\n\r\n".encode("ascii") + look.jpeg + b"\r\n")
                with state.changed:
                    state.stream_sent += 1
                    if sent_seq and look.seq > sent_seq + 1:
                        state.stream_dropped += look.seq - sent_seq - 1
                sent_seq, sent_at = look.seq, time.monotonic()
        except OSError:  # the client went away (reset, broken pipe, or stalled past the socket timeout)
            pass
        finally:
            server.streams.give()

    # -- the API ----------------------------------------------------------------------------------

    def api_status(self, query: dict[str, list[str]]) -> None:
        self._json(status(self.server.state, self.server.streams.used, self.server.event_streams.used))

    def api_results(self, query: dict[str, list[str]]) -> None:
        """``?since=ID&limit=N``: the newest N results after ID, oldest first, from the results log if there is one.
        All clients together read at most ``RESULTS_LINES_PER_S`` lines a second (a request costs its limit): reading
        the log costs the loop's process CPU, and classifying comes first."""
        try:
            since = int(_first(query, "since") or -1)
            limit = int(_first(query, "limit") or RESULTS_LIMIT)
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "since and limit must be whole numbers")
            return
        if not 1 <= limit <= MAX_RESULTS:
            self._error(HTTPStatus.BAD_REQUEST, f"limit must be from 1 to {MAX_RESULTS}")
            return
        if not self.server.results_rate.take(limit, RESULTS_WAIT_S):
            self._error(HTTPStatus.TOO_MANY_REQUESTS, f"busy: at most {RESULTS_LINES_PER_S:g} results a second are "
                        "read for all clients together", {"Retry-After": "1"})
            return
        state = self.server.state
        if state.view.results_log is not None:
            results, more = read_recent(state.view.results_log, since, limit)
            where = "results log"
        else:
            published, _ = state.recent_results()
            newer = [entry.record() for entry in published if (entry.id or 0) > since]
            results, more = newer[-limit:], len(newer) > limit
            where = "memory"
        self._json({"results": results, "more": more, "from": where})

    def api_events(self, query: dict[str, list[str]]) -> None:
        """Server-Sent Events: one ``data:`` line per result in the result schema, with its id (``id:``).

        Results go out in batches, at most ``stream_fps`` a second (the rate the page shows frames at): one write
        per result cost the loop 10% of its frame time at camera rates, one per batch costs it nothing measurable.
        """
        server, state = self.server, self.server.state
        if not server.event_streams.take():
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"at most {server.event_streams.limit} event streams at once",
                        {"Retry-After": "5"})
            return
        try:
            self._headers(HTTPStatus.OK, "text/event-stream; charset=utf-8", headers={"X-Accel-Buffering": "no"})
            self.wfile.write(b"retry: 2000\n\n")
            pending, cursor = self._missed_events(state)
            quiet_since = time.monotonic()
            while not state.closed.is_set():
                if pending:
                    self.wfile.write(b"".join(_event(entry.record()) for entry in pending))
                    quiet_since = time.monotonic()
                    if self._client_gone(within=server.frame_period):  # the next batch gathers meanwhile
                        break
                elif time.monotonic() - quiet_since >= EVENT_KEEPALIVE_S:
                    self.wfile.write(b": keep-alive\n\n")
                    quiet_since = time.monotonic()
                state.touch()
                pending, cursor = state.wait_results(cursor, WAIT_SLICE_S)
                if self._client_gone():
                    break
        except OSError:
            pass
        finally:
            server.event_streams.give()

    def _missed_events(self, state: WebState) -> tuple[list[Any], int]:
        """After a reconnect (``Last-Event-ID``), the results since that one still in memory; else none."""
        published, cursor = state.recent_results()
        last = self.headers.get("Last-Event-ID", "")
        if not (last.isascii() and last.isdigit() and len(last) <= 20):  # "²" is a digit to Python, not to int()
            return [], cursor
        return [entry for entry in published if (entry.id or 0) > int(last)], cursor

    def api_trigger(self, query: dict[str, list[str]]) -> None:
        """What the GPIO button does: classify one frame now (trigger mode only). Same-origin POSTs only."""
        if not Access.same_origin(self.headers):
            self._error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
            return
        view = self.server.state.view
        if view.mode != "trigger":
            self._error(HTTPStatus.CONFLICT, "not in trigger mode: every frame is classified already")
            return
        view.trigger()
        self._json({"queued": True}, HTTPStatus.ACCEPTED)

    # -- teaching, uploads and drawings ------------------------------------------------------------

    def _teacher(self, post: bool) -> Optional[Teacher]:
        """The teach panel, or None after answering why not (none here; a cross-origin POST)."""
        if post and not Access.same_origin(self.headers):
            self._error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
            return None
        teacher = self.server.state.view.teacher
        if teacher is None:
            self._error(HTTPStatus.NOT_FOUND, "teaching is the service's, with [web] enabled")
        return teacher

    def _teach(self, action: Callable[[Teacher], Any], code: int = HTTPStatus.OK) -> None:
        teacher = self._teacher(post=True)
        if teacher is None:
            return
        try:
            answer = action(teacher)
        except TeachBusy as error:
            self._error(HTTPStatus.CONFLICT, str(error))
        except PiclassifyError as error:  # a bad class or model name, too few examples, an unreadable image
            self._error(HTTPStatus.BAD_REQUEST, _one_line(str(error)))
        else:
            self._json(answer, code)

    def api_teach(self, query: dict[str, list[str]]) -> None:
        teacher = self._teacher(post=False)
        if teacher is not None:
            self._json(teacher.status())

    def api_teach_capture(self, query: dict[str, list[str]]) -> None:
        """``?class=NAME``: the newest frame becomes an example of NAME."""
        delivery = self.server.state.latest()[1]
        if delivery is None:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", {"Retry-After": "1"})
            return
        self._teach(lambda teacher: teacher.capture(_first(query, "class") or "", delivery.frame.rgb))

    def api_teach_undo(self, query: dict[str, list[str]]) -> None:
        self._teach(lambda teacher: teacher.undo())

    def api_teach_fit(self, query: dict[str, list[str]]) -> None:
        """``?name=NAME``: fit a model on the examples, in the background; the service then runs it."""
        def fit(teacher: Teacher) -> dict[str, Any]:
            teacher.fit(_first(query, "name") or "")
            return teacher.status()
        self._teach(fit, HTTPStatus.ACCEPTED)

    def api_classify(self, query: dict[str, list[str]]) -> None:
        """The body is an image (an upload, a drawing): its result in the result schema. ``?model=`` a bundled
        model's name (the drawing: digits; default the service's model); ``?add=CLASS`` also keeps it as an
        example of CLASS."""
        model, add = _first(query, "model"), _first(query, "add")
        if model is not None and resolve_bundled(model) is None:
            self._error(HTTPStatus.BAD_REQUEST, "model must be a bundled model's name")
            return

        def classify(teacher: Teacher) -> dict[str, Any]:
            rgb = decode_image(self.body, "the upload")
            if add:
                teacher.capture(add, rgb)
            return teacher.classify(rgb, model)
        self._teach(classify)

    def prometheus(self, query: dict[str, list[str]]) -> None:
        from piclassify.device.sinks.web.status import metrics as families

        text = metrics.render(families(self.server.state, self.server.streams.used))
        self._send(HTTPStatus.OK, text.encode("utf-8"), metrics.CONTENT_TYPE)

    def healthz(self, query: dict[str, list[str]]) -> None:
        if healthy(self.server.state):
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no frames\n", "text/plain; charset=utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _first(query: dict[str, list[str]], key: str) -> Optional[str]:
    values = query.get(key)
    return values[0] if values else None


def _whole(text: Optional[str]) -> Optional[int]:
    """A whole number written in ASCII digits (``int`` also takes "٣", signs, spaces and underscores), or None."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) <= 20 else None


def _event(record: dict[str, Any]) -> bytes:
    body = {key: value for key, value in record.items() if key != "id"}
    return (f"id: {record['id']}\ndata: " + json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            + "\n\n").encode("utf-8")


GET_ROUTES: dict[str, Callable[[Handler, dict[str, list[str]]], None]] = {
    "/": Handler.page,
    "/stream.mjpg": Handler.stream,
    "/snapshot.jpg": Handler.snapshot,
    "/model-input.png": Handler.model_input,
    "/api/status": Handler.api_status,
    "/api/frame": Handler.api_frame,
    "/api/results": Handler.api_results,
    "/api/events": Handler.api_events,
    "/api/teach": Handler.api_teach,
    "/metrics": Handler.prometheus,
    "/healthz": Handler.healthz,
}
POST_ROUTES: dict[str, Callable[[Handler, dict[str, list[str]]], None]] = {
    "/api/trigger": Handler.api_trigger,
    "/api/teach/capture": Handler.api_teach_capture,
    "/api/teach/undo": Handler.api_teach_undo,
    "/api/teach/fit": Handler.api_teach_fit,
    "/api/classify": Handler.api_classify,
}
