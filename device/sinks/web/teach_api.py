"""The teach panel's API in the web view: examples captured into classes, a fit, uploads and drawings classified.

The web view owns the interface (``state.TeachPanel``) and the service hands it its panel
(``device.teach.teacher.Teacher``), so this room never imports teach. Without a panel (``piclassify
run --web``) these paths answer 404. Every POST must be same-origin; a fit already running is 409,
any other refusal (a bad class or model name, too few examples, an unreadable image) 400.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from piclassify.device.core.model_files import resolve_bundled
from piclassify.device.errors import RegionError, TeachBusy, TooBusy
from piclassify.device.sinks.web import limits
from piclassify.device.sinks.web.regions_api import notable_answer
from piclassify.device.sinks.web.server import Handler, Query, first
from piclassify.device.sinks.web.state import TeachPanel
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.imagefile import decode_image

log = logging.getLogger(__name__)

UPLOADS = ("/api/classify",)  # POSTs whose body is a picture, not a few form fields
UPLOAD_SIDE = 320  # px: a photo's shorter side is decoded at least this long (the backbone looks at 224)
UPLOAD_PIXELS = 4_000_000  # an upload that cannot be decoded smaller (a PNG, a WebP) has at most these


def status(request: Handler, query: Query) -> None:
    panel = _panel(request, post=False)
    if panel is not None:
        request.reply_json(panel.status())


def capture(request: Handler, query: Query) -> None:
    """``?class=NAME``: the newest frame becomes an example of NAME; ``&region=R``: its crop to region R (what R's
    model reads)."""
    delivery = request.server.state.latest()[1]
    if delivery is None:
        _refuse(request, HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", {"Retry-After": "1"})
        return
    frame, region = delivery.frame, first(query, "region")
    loop = request.server.state.view.loop()

    def keep(panel: TeachPanel) -> dict[str, Any]:
        if region is None:
            return panel.capture(first(query, "class") or "", frame.rgb)
        if loop is None or loop.regions is None:
            raise RegionError("no region is watched")
        return panel.capture(first(query, "class") or "", loop.regions.watch(region).region.crop(frame).rgb)
    _act(request, keep)


def keep(request: Handler, query: Query) -> None:
    """``?name=R&id=N&class=C``: region R's notable answer N (from its review list) becomes an example of C."""
    if not request.same_origin():
        return
    notable = notable_answer(request, query)
    if notable is not None:
        _act(request, lambda panel: panel.capture(first(query, "class") or "", notable.rgb))


def undo(request: Handler, query: Query) -> None:
    _act(request, lambda panel: panel.undo())


def remove(request: Handler, query: Query) -> None:
    """``?class=NAME``: remove the class NAME and its examples (an empty class, one captured by mistake)."""
    _act(request, lambda panel: panel.remove(first(query, "class") or ""))


def fit(request: Handler, query: Query) -> None:
    """``?name=NAME``: fit a model on the examples, in the background; the service then runs it."""
    def start(panel: TeachPanel) -> dict[str, Any]:
        panel.fit(first(query, "name") or "")
        return panel.status()
    _act(request, start, HTTPStatus.ACCEPTED)


def classify(request: Handler, query: Query) -> None:
    """The body is an image (an upload, a drawing): its result in the result schema. ``?model=`` a bundled
    model's name (the drawing: digits; default the service's model); ``?add=CLASS`` also keeps it as an
    example of CLASS."""
    model, add = first(query, "model"), first(query, "add")
    if model is not None and resolve_bundled(model) is None:
        _refuse(request, HTTPStatus.BAD_REQUEST, "model must be a bundled model's name")
        return

    def answer(panel: TeachPanel) -> dict[str, Any]:
        decoding = request.server.decoding
        if not decoding.acquire(timeout=limits.DECODE_WAIT_S):
            raise TooBusy("busy: other uploads are being classified; try again shortly")
        try:
            rgb = decode_image(request.body, "the upload", UPLOAD_PIXELS, UPLOAD_SIDE)
            request.body = b""  # the picture is decoded: its bytes need not wait for the answer
            if add:
                panel.capture(add, rgb)
            return panel.classify(rgb, model)
        finally:
            decoding.release()
    _act(request, answer)


def _panel(request: Handler, post: bool) -> Optional[TeachPanel]:
    """The teach panel, or None after answering why not (none here; a cross-origin POST)."""
    if post and not request.same_origin():
        return None
    panel = request.server.state.view.teacher
    if panel is None:
        _refuse(request, HTTPStatus.NOT_FOUND, "teaching is the service's, with [web] enabled")
    return panel


def _act(request: Handler, action: Callable[[TeachPanel], Any], code: int = HTTPStatus.OK) -> None:
    panel = _panel(request, post=True)
    if panel is None:
        return
    try:
        answer = action(panel)
    except TeachBusy as error:
        _refuse(request, HTTPStatus.CONFLICT, str(error))
    except TooBusy as error:
        _refuse(request, HTTPStatus.TOO_MANY_REQUESTS, str(error), {"Retry-After": "5"})
    except PiclassifyError as error:
        _refuse(request, HTTPStatus.BAD_REQUEST, str(error))
    except Exception as error:  # noqa: BLE001 - a client always gets an answer; the journal gets the why
        log.exception("web: %s failed", urlsplit(request.path).path)
        _refuse(request, HTTPStatus.INTERNAL_SERVER_ERROR, f"failed ({type(error).__name__}); see the service's log")
    else:
        request.reply_json(answer, code)


def _refuse(request: Handler, code: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
    """A refusal as the panel's API answers: its status, and ``{"error": "one line"}``."""
    body = json.dumps({"error": " ".join(message.split())[:300]}, ensure_ascii=False).encode("utf-8")
    request.reply(code, body, "application/json; charset=utf-8", headers)
