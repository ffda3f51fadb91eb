"""The teach panel's API in the web view: examples captured into classes, a fit, uploads and drawings classified.

The web view owns the interface (``state.TeachPanel``) and the service hands it its panel
(``device.teach.teacher.Teacher``), so this room never imports teach. Without a panel (``piclassify
run --web``) these paths answer 404. Every POST must be same-origin; a fit already running is 409,
any other refusal (a bad class or model name, too few examples, an unreadable image) 400.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Optional

from piclassify.device.core.model_files import resolve_bundled
from piclassify.device.errors import TeachBusy
from piclassify.device.sinks.web.server import Handler, Query, first
from piclassify.device.sinks.web.state import TeachPanel
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.imagefile import decode_image

UPLOADS = ("/api/classify",)  # POSTs whose body is a picture, not a few form fields


def status(request: Handler, query: Query) -> None:
    panel = _panel(request, post=False)
    if panel is not None:
        request.reply_json(panel.status())


def capture(request: Handler, query: Query) -> None:
    """``?class=NAME``: the newest frame becomes an example of NAME."""
    delivery = request.server.state.latest()[1]
    if delivery is None:
        request.reply_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", {"Retry-After": "1"})
        return
    _act(request, lambda panel: panel.capture(first(query, "class") or "", delivery.frame.rgb))


def undo(request: Handler, query: Query) -> None:
    _act(request, lambda panel: panel.undo())


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
        request.reply_error(HTTPStatus.BAD_REQUEST, "model must be a bundled model's name")
        return

    def answer(panel: TeachPanel) -> dict[str, Any]:
        rgb = decode_image(request.body, "the upload")
        if add:
            panel.capture(add, rgb)
        return panel.classify(rgb, model)
    _act(request, answer)


def _panel(request: Handler, post: bool) -> Optional[TeachPanel]:
    """The teach panel, or None after answering why not (none here; a cross-origin POST)."""
    if post and not request.same_origin():
        return None
    panel = request.server.state.view.teacher
    if panel is None:
        request.reply_error(HTTPStatus.NOT_FOUND, "teaching is the service's, with [web] enabled")
    return panel


def _act(request: Handler, action: Callable[[TeachPanel], Any], code: int = HTTPStatus.OK) -> None:
    panel = _panel(request, post=True)
    if panel is None:
        return
    try:
        answer = action(panel)
    except TeachBusy as error:
        request.reply_error(HTTPStatus.CONFLICT, str(error))
    except PiclassifyError as error:
        request.reply_error(HTTPStatus.BAD_REQUEST, _one_line(str(error)))
    else:
        request.reply_json(answer, code)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
