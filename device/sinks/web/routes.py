"""What each path of the web view answers: the page, its pictures, the API, the health and metrics endpoints.

Each route is a function of the request (``server.Handler``) and its query; ``ROUTES`` is the one
table of them, with the streams (``streams``) and the teach panel's API (``teach_api``). The page
shows one frame at a time: it asks ``/api/frame`` which frame comes next, then fetches that frame's
``snapshot.jpg?seq=`` and ``model-input.png?seq=``, so that everything it shows is of that one frame.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Optional

from piclassify.device.sinks.web import metrics, regions_api, streams, teach_api
from piclassify.device.sinks.web.history import published, read_recent
from piclassify.device.sinks.web.page import PAGE
from piclassify.device.sinks.web.render import model_input_png
from piclassify.device.sinks.web.server import WAIT_SLICE_S, Handler, Query, Routes, first, whole
from piclassify.device.sinks.web.state import Look
from piclassify.device.sinks.web.status import healthy, status
from piclassify.device.sinks.web.status import metrics as metric_families

RESULTS_LIMIT = 100  # /api/results default; at most MAX_RESULTS
MAX_RESULTS = 1000
PAGE_POLICY = {"Content-Security-Policy": "default-src 'none'; img-src 'self'; connect-src 'self'; "
                                          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; "
                                          "form-action 'none'; frame-ancestors 'none'",
               "X-Frame-Options": "DENY"}


def page(request: Handler, query: Query) -> None:
    request.server.state.touch()
    request.reply(HTTPStatus.OK, PAGE, "text/html; charset=utf-8", PAGE_POLICY)


def snapshot(request: Handler, query: Query) -> None:
    """The newest frame with its answer drawn on it; ``?seq=N``: frame N (see ``api_frame``)."""
    look = _look(request, query)
    if look is not None:
        request.reply(HTTPStatus.OK, look.jpeg, "image/jpeg")


def model_input(request: Handler, query: Query) -> None:
    """The newest frame's exact model input; ``?seq=N``: frame N's (see ``api_frame``)."""
    state = request.server.state
    state.touch()
    if "seq" in query:
        look = _look(request, query)
        if look is not None:
            request.reply(HTTPStatus.OK, look.png(state.view.input_size), "image/png")
        return
    _await_model_input(request)
    request.reply(HTTPStatus.OK, model_input_png(state.model_input(), state.view.input_size), "image/png")


def _await_model_input(request: Handler) -> None:
    """The loop keeps the model input only while someone watches: after a while, the next frame has it (wait up
    to a second for it)."""
    state = request.server.state
    seq, delivery = state.latest()
    deadline = time.monotonic() + WAIT_SLICE_S
    while delivery is not None and delivery.result.label is not None and delivery.model_input is None \
            and time.monotonic() < deadline:
        seq = state.wait_frame(seq, deadline - time.monotonic())
        delivery = state.latest()[1]


def _look(request: Handler, query: Query) -> Optional[Look]:
    """The newest frame's look, or ``?seq=N``'s; None after answering why not (no frame yet; not a number; no
    longer kept: the page asks ``/api/frame`` for a newer one)."""
    state = request.server.state
    if "seq" not in query:
        look = state.look()
        if look is None:
            request.reply_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", {"Retry-After": "1"})
        return look
    seq = whole(first(query, "seq"))
    if seq is None:
        request.reply_error(HTTPStatus.BAD_REQUEST, "seq must be a whole number")
        return None
    look = state.look_at(seq)
    if look is None:
        request.reply_error(HTTPStatus.NOT_FOUND, "that frame is no longer kept")
    return look


def api_frame(request: Handler, query: Query) -> None:
    """``?after=N``: the frame the page shows next, once one newer than frame N is due (at most ``stream_fps`` a
    second, the same frame for every client), else after a second the newest again: its number ``seq`` (0: no
    frame yet), its result and whether that is one of the results."""
    after = whole(first(query, "after") or "0")
    if after is None:
        request.reply_error(HTTPStatus.BAD_REQUEST, "after must be a whole number")
        return
    state = request.server.state
    state.touch()
    _await_model_input(request)
    look = state.next_look(after, request.server.frame_period, WAIT_SLICE_S)
    if look is None:
        request.reply_json({"seq": 0, "result": None, "listed": False})
        return
    request.reply_json({"seq": look.seq, "result": look.record, "listed": look.listed})


def api_status(request: Handler, query: Query) -> None:
    server = request.server
    request.reply_json(status(server.state, server.streams.used, server.event_streams.used))


def api_results(request: Handler, query: Query) -> None:
    """``?since=ID&limit=N``: the newest N results after ID, oldest first, from the results log if there is one.
    All clients together read at most ``limits.RESULTS_LINES_PER_S`` log lines a second (a request costs its limit)."""
    try:
        since = int(first(query, "since") or -1)
        limit = int(first(query, "limit") or RESULTS_LIMIT)
    except ValueError:
        request.reply_error(HTTPStatus.BAD_REQUEST, "since and limit must be whole numbers")
        return
    if not 1 <= limit <= MAX_RESULTS:
        request.reply_error(HTTPStatus.BAD_REQUEST, f"limit must be from 1 to {MAX_RESULTS}")
        return
    budget = request.server.results_rate
    if not budget.take(limit):
        request.reply_error(HTTPStatus.TOO_MANY_REQUESTS, f"busy: at most {budget.rate:g} results a second are "
                            "read for all clients together", {"Retry-After": "1"})
        return
    state = request.server.state
    if state.view.results_log is not None:
        results, more = read_recent(state.view.results_log, since, limit)
        where = "results log"
    else:
        recent, _ = state.recent_results()
        newer = [record for record in map(published, recent) if (record["id"] or 0) > since]
        results, more = newer[-limit:], len(newer) > limit
        where = "memory"
    request.reply_json({"results": results, "more": more, "from": where})


def api_trigger(request: Handler, query: Query) -> None:
    """What the GPIO button does: classify one frame now (trigger mode only). Same-origin POSTs only."""
    if not request.same_origin():
        return
    view = request.server.state.view
    if view.mode != "trigger":
        request.reply_error(HTTPStatus.CONFLICT, "not in trigger mode: every frame is classified already")
        return
    view.trigger()
    request.reply_json({"queued": True}, HTTPStatus.ACCEPTED)


def prometheus(request: Handler, query: Query) -> None:
    text = metrics.render(metric_families(request.server.state, request.server.streams.used))
    request.reply(HTTPStatus.OK, text.encode("utf-8"), metrics.CONTENT_TYPE)


def healthz(request: Handler, query: Query) -> None:
    if healthy(request.server.state):
        request.reply(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
    else:
        request.reply(HTTPStatus.SERVICE_UNAVAILABLE, b"no frames\n", "text/plain; charset=utf-8")


ROUTES = Routes(
    get={
        "/": page,
        "/stream.mjpg": streams.mjpeg,
        "/snapshot.jpg": snapshot,
        "/model-input.png": model_input,
        "/api/status": api_status,
        "/api/frame": api_frame,
        "/api/results": api_results,
        "/api/events": streams.events,
        "/api/teach": teach_api.status,
        "/api/regions": regions_api.api_regions,
        "/region.jpg": regions_api.region_crop,
        "/region-input.png": regions_api.region_input,
        "/api/review": regions_api.api_review,
        "/review.jpg": regions_api.review_crop,
        "/metrics": prometheus,
        "/healthz": healthz,
    },
    post={
        "/api/trigger": api_trigger,
        "/api/region": regions_api.move_region,
        "/api/teach/capture": teach_api.capture,
        "/api/teach/keep": teach_api.keep,
        "/api/teach/undo": teach_api.undo,
        "/api/teach/remove": teach_api.remove,
        "/api/teach/fit": teach_api.fit,
        "/api/classify": teach_api.classify,
    },
    uploads=frozenset(teach_api.UPLOADS),
)
