"""Watched regions in the web view (``regions_api``, ``page_regions``): each region's state, crop and model input;
moving a region by a drag; the teach panel keeping a region's crop. The service is ``test_web.WebService`` (the
real digits model, the bundled digit photos looping) with a ``[[region]]`` in its config, and a browser drags."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from PIL import Image

from conftest import wait_until
from tests.device.sinks.web.test_web import WebService, digits, start_web  # noqa: F401 (fixtures)
from tests.helpers.browser import Chromium, chromium_or_skip

REGION = '[[region]]\nname = "card"\nx = 0.25\ny = 0.0\nw = 0.5\nh = 1.0\nagree = 1\n'


def get(service: WebService, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(service.url(path), timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def post(service: WebService, path: str, origin: str = "") -> tuple[int, Any]:
    request = urllib.request.Request(service.url(path), data=b"", method="POST",
                                     headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else body.decode()


def regions(service: WebService) -> list[dict]:
    return json.loads(get(service, "/api/regions")[1])["regions"]


def test_each_region_shows_its_state_crop_and_model_input_and_moves_by_request(start_web, tmp_path):  # noqa: F811
    service = start_web(config=REGION)
    assert wait_until(lambda: regions(service)[0]["state"] is not None, 10)
    card = regions(service)[0]
    assert card["box"] == [0.25, 0.0, 0.5, 1.0] and card["model"] == "digits" and card["change"] == 4.0
    assert card["state"] in {"0", "1", "2", "7", "nothing in view"} and card["since"] is not None
    code, jpeg, kind = get(service, "/region.jpg?name=card")
    assert code == 200 and kind == "image/jpeg" and Image.open(io.BytesIO(jpeg)).format == "JPEG"
    code, png, kind = get(service, "/region-input.png?name=card")
    assert code == 200 and Image.open(io.BytesIO(png)).size == (28, 28)
    assert get(service, "/region.jpg?name=door")[0] == 404

    code, moved = post(service, "/api/region?name=card&x=0.1&y=0.2&w=0.3&h=0.4")
    assert code == 200 and moved["config"] == '[[region]]\nname = "card"\nx = 0.1\ny = 0.2\nw = 0.3\nh = 0.4'
    assert regions(service)[0]["box"] == [0.1, 0.2, 0.3, 0.4]
    for query, expected in (("name=card&x=0.9&y=0&w=0.3&h=1", 400), ("name=card&x=nan&y=0&w=1&h=1", 400),
                            ("name=card&x=0.1", 400), ("name=door&x=0&y=0&w=1&h=1", 404)):
        assert post(service, f"/api/region?{query}")[0] == expected, query
    assert post(service, "/api/region?name=card&x=0&y=0&w=1&h=1", origin="http://evil.example")[0] == 403
    assert regions(service)[0]["box"] == [0.1, 0.2, 0.3, 0.4]


def test_without_regions_the_list_is_empty_and_the_rest_404(start_web):  # noqa: F811
    service = start_web()
    assert regions(service) == []
    assert get(service, "/region-input.png?name=card")[0] == 404
    assert post(service, "/api/region?name=card&x=0&y=0&w=1&h=1")[0] == 404


def test_the_teach_panel_keeps_a_regions_crop_when_asked(start_web, tmp_path):  # noqa: F811
    teach = f'[teach]\nexamples = "{tmp_path / "examples"}"\nmodels = "{tmp_path / "models"}"\n'
    service = start_web(config=REGION + teach)
    assert wait_until(lambda: regions(service)[0]["state"] is not None, 10)
    assert post(service, "/api/teach/capture?class=whole")[0] == 200
    assert post(service, "/api/teach/capture?class=door&region=card")[0] == 200
    assert post(service, "/api/teach/capture?class=door&region=gate")[0] == 400
    whole, = (tmp_path / "examples" / "whole").iterdir()
    door, = (tmp_path / "examples" / "door").iterdir()
    (width, height), (crop_width, crop_height) = Image.open(whole).size, Image.open(door).size
    assert abs(crop_width - width / 2) <= 1 and crop_height == height


@pytest.mark.browser
def test_a_drag_on_the_live_view_moves_a_region(start_web, tmp_path):  # noqa: F811
    executable = chromium_or_skip()
    service = start_web(config=REGION)
    browser = Chromium(executable, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                             "mobile": False}, session)
        browser.send("Page.navigate", {"url": service.url("/")}, session)

        def evaluate(expression: str) -> Any:
            return browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                session)["result"].get("value")

        assert wait_until(lambda: evaluate("document.querySelectorAll('#boxes .box').length") == 1, 20)
        assert wait_until(lambda: evaluate("document.querySelector('#regions button') !== null"), 10)
        evaluate("document.querySelector('#regions button').click()")
        box = evaluate("(() => { const r = document.getElementById('boxes').getBoundingClientRect(); "
                       "return [r.left, r.top, r.width, r.height]; })()")
        left, top, width, height = box
        start, end = (left + 0.1 * width, top + 0.2 * height), (left + 0.5 * width, top + 0.6 * height)
        for kind, (x, y) in (("mousePressed", start), ("mouseMoved", end), ("mouseReleased", end)):
            browser.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                      "buttons": 1 if kind != "mouseReleased" else 0,
                                                      "clickCount": 1}, session)
            time.sleep(0.1)
        assert wait_until(lambda: [round(v, 2) for v in regions(service)[0]["box"]] == [0.1, 0.2, 0.4, 0.4], 10), \
            regions(service)
        assert wait_until(lambda: "[[region]]" in (evaluate("document.getElementById('region-config').textContent")
                                                  or ""), 10)
        assert evaluate("document.getElementById('capture-from').options.length") == 2
        evaluate("document.querySelectorAll('#regions button')[1].click()")  # Review
        assert wait_until(lambda: evaluate("document.querySelectorAll('#review img.thumb').length") >= 1, 10)
    finally:
        browser.close()


def test_a_regions_notable_answers_are_listed_and_one_click_keeps_one_as_an_example(start_web, tmp_path):  # noqa: F811
    teach = f'[teach]\nexamples = "{tmp_path / "examples"}"\nmodels = "{tmp_path / "models"}"\n'
    service = start_web(config=REGION + teach)

    def answers() -> list[dict]:
        return json.loads(get(service, "/api/review?name=card")[1])["answers"]

    assert wait_until(lambda: len(answers()) >= 2, 20), answers()  # the looping photos change its state
    listed = answers()
    assert len(listed) <= 12 and [a["id"] for a in listed] == sorted((a["id"] for a in listed), reverse=True)
    newest = listed[0]
    code, jpeg, kind = get(service, f"/review.jpg?name=card&id={newest['id']}")
    assert code == 200 and kind == "image/jpeg"
    assert post(service, f"/api/teach/keep?name=card&id={newest['id']}&class=door", origin="http://evil.example")[0] \
        == 403
    code, panel = post(service, f"/api/teach/keep?name=card&id={newest['id']}&class=door")
    assert code == 200 and panel["classes"] == {"door": 1}
    kept, = (tmp_path / "examples" / "door").iterdir()
    assert Image.open(kept).size == Image.open(io.BytesIO(jpeg)).size  # the crop, not the frame
    assert post(service, "/api/teach/keep?name=card&id=999999&class=door")[0] == 404
    assert get(service, "/api/review?name=gate")[0] == 404
