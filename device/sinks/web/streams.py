"""The web view's two streams: live frames as MJPEG, and results as Server-Sent Events.

Each stream holds one of ``max_streams`` slots (more get 503 with Retry-After). Its thread waits for
the next frame (or result), sends it, and notices a client that has gone within a second; a slow
client only ever gets the newest frame, so it never holds up the loop or other clients.
"""

from __future__ import annotations

import json
import socket
import time
from http import HTTPStatus
from typing import Any

from piclassify.device.sinks.web.history import published
from piclassify.device.sinks.web.limits import Slots
from piclassify.device.sinks.web.server import WAIT_SLICE_S, Handler, Query
from piclassify.device.sinks.web.state import WebState
from piclassify.shared.contract.result import Result

STREAM_SEND_BUFFER = 64 * 1024  # a client that stops reading fills this in a few frames, then its slot times out
RESEND_S = 2.0  # a stream with no new frame resends the last one this often (trigger mode)
EVENT_KEEPALIVE_S = 15.0
BOUNDARY = "piclassify-frame"


def mjpeg(request: Handler, query: Query) -> None:
    """MJPEG: the newest frame at most ``stream_fps`` times a second, the same one (one encoding) for every
    client; frames in between are dropped. With no new frame, the last is sent again every ``RESEND_S``."""
    server, state = request.server, request.server.state
    if not _take(request, server.streams, "live streams"):
        return
    try:
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SEND_BUFFER)
        request.reply_headers(HTTPStatus.OK, f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        sent_seq, sent_at = 0, 0.0
        while not state.closed.is_set():
            state.touch()
            look = state.next_look(sent_seq, server.frame_period, WAIT_SLICE_S)
            if request.client_gone():
                break
            if look is None or (look.seq == sent_seq and time.monotonic() - sent_at < RESEND_S):
                continue
            request.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(look.jpeg)}"
                                "\r\n\r\n".encode("ascii") + look.jpeg + b"\r\n")
            state.count_sent(look.seq, sent_seq)
            sent_seq, sent_at = look.seq, time.monotonic()
    except OSError:  # the client went away (reset, broken pipe, or stalled past the socket timeout)
        pass
    finally:
        server.streams.give()


def events(request: Handler, query: Query) -> None:
    """Server-Sent Events: one ``data:`` line per result in the result schema, with its id (``id:``).

    Results go out in batches, at most ``stream_fps`` a second (the rate the page shows frames at): one write
    per result cost the loop 10% of its frame time at camera rates, one per batch costs it nothing measurable.
    """
    server, state = request.server, request.server.state
    if not _take(request, server.event_streams, "event streams"):
        return
    try:
        request.reply_headers(HTTPStatus.OK, "text/event-stream; charset=utf-8", headers={"X-Accel-Buffering": "no"})
        request.wfile.write(b"retry: 2000\n\n")
        pending, cursor = _missed(request, state)
        quiet_since = time.monotonic()
        while not state.closed.is_set():
            if pending:
                request.wfile.write(b"".join(_event(published(result)) for result in pending))
                quiet_since = time.monotonic()
                if request.client_gone(within=server.frame_period):  # the next batch gathers meanwhile
                    break
            elif time.monotonic() - quiet_since >= EVENT_KEEPALIVE_S:
                request.wfile.write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
            state.touch()
            pending, cursor = state.wait_results(cursor, WAIT_SLICE_S)
            if request.client_gone():
                break
    except OSError:
        pass
    finally:
        server.event_streams.give()


def _take(request: Handler, slots: Slots, what: str) -> bool:
    """One of ``slots``, or False after answering 503."""
    if slots.take():
        return True
    request.reply_error(HTTPStatus.SERVICE_UNAVAILABLE, f"at most {slots.limit} {what} at once", {"Retry-After": "5"})
    return False


def _missed(request: Handler, state: WebState) -> tuple[list[Result], int]:
    """After a reconnect (``Last-Event-ID``), the results since that one still in memory; else none."""
    recent, cursor = state.recent_results()
    last = request.headers.get("Last-Event-ID", "")
    if not (last.isascii() and last.isdigit() and len(last) <= 20):  # "²" is a digit to Python, not to int()
        return [], cursor
    return [result for result in recent if (published(result)["id"] or 0) > int(last)], cursor


def _event(record: dict[str, Any]) -> bytes:
    body = {key: value for key, value in record.items() if key != "id"}
    return (f"id: {record['id']}\ndata: " + json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            + "\n\n").encode("utf-8")
