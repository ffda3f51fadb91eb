"""The watched regions in the web view: each region's state, its crop and model input, and moving it by a drag.

``/api/regions`` lists each region as the loop watches it (its box, its steady state and since when,
how far its pixels are from the last classified crop against the ``change`` threshold); with
``?name=``, ``/region.jpg`` is the crop its newest steady answer read, ``/region-input.png`` that
answer's model input (kept while someone watches the page). ``POST /api/region?name=&x=&y=&w=&h=``
(same-origin) moves a region in the running loop, until the config is read again, and answers the
``[[region]]`` lines that keep it there. ``/api/review?name=`` lists a region's last notable answers
(where its state changed, or below min_score), ``/review.jpg?name=&id=`` shows one's crop, and the
teach API keeps one as an example (``teach_api.keep``). Without regions, the list is empty and the
rest 404.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Optional

from piclassify.device.core.frames import Frame
from piclassify.device.core.regions import NOTHING, Box
from piclassify.device.errors import RegionError
from piclassify.device.sinks.web.render import crop_jpeg, model_input_png
from piclassify.device.sinks.web.server import Handler, Query, first, whole

if TYPE_CHECKING:
    from piclassify.device.core.regions import Regions, RegionWatch
    from piclassify.device.core.regions.watch import Notable


def api_regions(request: Handler, query: Query) -> None:
    request.server.state.touch()  # the page shows each region's model input: keep it coming
    regions = _regions(request)
    request.reply_json({"regions": [describe(watch) for watch in (regions.watches if regions is not None else [])]})


def describe(watch: RegionWatch) -> dict[str, Any]:
    """One region as the page shows it."""
    region, steady = watch.region, watch.steady
    state = (steady.state if steady.state is not None else NOTHING) if steady.known else None
    box = region.box
    return {"name": region.name, "box": [box.x, box.y, box.w, box.h], "model": watch.pipeline.manifest.name,
            "state": state, "since": _iso(watch.changed_at), "settled": steady.settled,
            "difference": round(watch.difference, 2) if math.isfinite(watch.difference) else None,
            "change": region.change, "agree": region.agree, "recheck_s": region.recheck_s,
            "score": watch.last.result.score if watch.last is not None else None}


def region_crop(request: Handler, query: Query) -> None:
    """``?name=``: the crop the region's newest steady answer read, as JPEG."""
    watch = _watch(request, query)
    if watch is None:
        return
    last = watch.last
    if last is None or last.crop is None:
        request.reply_error(HTTPStatus.SERVICE_UNAVAILABLE, "no steady answer yet", {"Retry-After": "1"})
        return
    request.reply(HTTPStatus.OK, crop_jpeg(last.crop), "image/jpeg")


def region_input(request: Handler, query: Query) -> None:
    """``?name=``: the model input of the region's newest steady answer, as PNG (black until one is kept)."""
    watch = _watch(request, query)
    if watch is None:
        return
    request.server.state.touch()
    manifest = watch.pipeline.manifest
    last = watch.last
    request.reply(HTTPStatus.OK, model_input_png(last.model_input if last is not None else None,
                                                 (manifest.width, manifest.height)), "image/png")


def api_review(request: Handler, query: Query) -> None:
    """``?name=``: the region's last notable answers (where its state changed, or below min_score), newest first."""
    watch = _watch(request, query)
    if watch is None:
        return
    answers = [{"id": n.number, "time": _iso(n.time), "state": n.label if n.label is not None else NOTHING,
                "score": n.score, "why": n.why} for n in reversed(list(watch.review))]  # a copy: the loop appends
    request.reply_json({"region": watch.region.name, "answers": answers})


def review_crop(request: Handler, query: Query) -> None:
    """``?name=&id=``: that notable answer's crop, as JPEG."""
    notable = notable_answer(request, query)
    if notable is not None:
        request.reply(HTTPStatus.OK, crop_jpeg(Frame(notable.rgb, notable.time, notable.number)), "image/jpeg")


def notable_answer(request: Handler, query: Query) -> Optional[Notable]:
    """The notable answer ``?name=&id=`` names while the region keeps it, or None after answering 404."""
    watch = _watch(request, query)
    if watch is None:
        return None
    number = whole(first(query, "id"))
    notable = next((n for n in list(watch.review) if n.number == number), None)
    if notable is None:
        request.reply_error(HTTPStatus.NOT_FOUND, "that answer is no longer kept")
    return notable


def move_region(request: Handler, query: Query) -> None:
    """``?name=&x=&y=&w=&h=``: watch another part of the frame under that name; the lines that keep it so."""
    if not request.same_origin():
        return
    regions = _regions(request)
    try:
        values = [float(first(query, key) or "nan") for key in "xywh"]
        if not all(math.isfinite(v) for v in values):
            raise ValueError
        box = Box(*(round(v, 4) for v in values))
        if regions is None:
            raise RegionError("no region is watched: add [[region]] to the config")
        region = regions.move(first(query, "name") or "", box)
    except ValueError:  # a box outside the frame (RegionBoxError) too
        request.reply_json({"error": "x, y, w and h must be fractions of the frame, the box inside it"},
                           HTTPStatus.BAD_REQUEST)
        return
    except RegionError as error:
        request.reply_json({"error": str(error)}, HTTPStatus.NOT_FOUND)
        return
    lines = ["[[region]]", f'name = "{region.name}"', *(f"{key} = {getattr(box, key):g}" for key in "xywh")]
    request.reply_json({"region": region.name, "box": [box.x, box.y, box.w, box.h], "config": "\n".join(lines)})


def _regions(request: Handler) -> Optional[Regions]:
    loop = request.server.state.view.loop()
    return loop.regions if loop is not None else None


def _watch(request: Handler, query: Query) -> Optional[RegionWatch]:
    """The region ``?name=`` names, or None after answering 404."""
    regions = _regions(request)
    try:
        if regions is None:
            raise RegionError("no region is watched")
        return regions.watch(first(query, "name") or "")
    except RegionError as error:
        request.reply_error(HTTPStatus.NOT_FOUND, str(error))
        return None


def _iso(moment: Optional[float]) -> Optional[str]:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds") if moment is not None else None

