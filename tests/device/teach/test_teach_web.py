"""Teaching from the camera, in the service's web view: classes named, examples captured from the live
frames, a model fitted in the background and run; a photo uploaded and a digit drawn, classified.

The camera is a picamera2 stand-in (``tests/picamera2_standin.py``) whose scene the test changes, as a
user points the camera at one thing, then another.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.shared.files.imagefile import read_image

from conftest import wait_until
from tests.helpers.browser import Chromium, chromium_or_skip
from tests.helpers.teaching import FIT_S, PETS, STEP_S, TeachingService

CLOTHES = [read_image(path) for path in sorted(SAMPLES_DIR.glob("fashion-*.jpg"))]


@pytest.fixture
def teaching(tmp_path, monkeypatch):
    service = TeachingService(tmp_path, monkeypatch)
    yield service
    service.stop()


def test_examples_from_the_camera_make_a_model_the_service_then_runs(teaching):
    assert teaching.call("/api/teach") == (200, {"classes": {}, "bytes": 0, "max_bytes": 512 << 20, "fitting": False,
                                                 "message": "", "min_examples": 2})
    for label, photos in (("pets", PETS), ("clothes", CLOTHES)):
        for photo in photos:
            teaching.show(photo)
            status, answer = teaching.call(f"/api/teach/capture?class={label}", b"")
            assert status == 200, answer
    assert teaching.call("/api/teach")[1]["classes"] == {"clothes": 4, "pets": 3}
    assert teaching.call("/api/teach/undo", b"")[1]["classes"] == {"clothes": 3, "pets": 3}, "the newest one goes"
    status, answer = teaching.call("/api/teach/capture?class=clothes", b"")
    assert status == 200 and answer["classes"]["clothes"] == 4
    before = teaching.status()
    assert before["model"] == "digits" and before["accuracy_on"] == "mnist test"

    status, answer = teaching.call("/api/teach/fit?name=things", b"")
    assert status == 202 and answer["fitting"] is True
    assert wait_until(lambda: teaching.status().get("model") == "things", FIT_S), teaching.call("/api/teach")
    assert "now running" in teaching.call("/api/teach")[1]["message"]
    for photo, label in ((PETS[1], "pets"), (CLOTHES[1], "clothes")):
        teaching.show(photo)
        assert wait_until(lambda: (teaching.status().get("last") or {}).get("label") == label, STEP_S), teaching.status()
    manifest = json.loads((teaching.models / "things.json").read_text())
    assert manifest["training"]["photos_per_class"] == {"clothes": 4, "pets": 3}
    after = teaching.status()  # what the taught model was measured at, and counts since it started
    assert after["accuracy"] == manifest["metrics"]["cross_validated_accuracy"]
    assert after["accuracy_on"] == "its examples, each left out (cross-validated)"
    assert after["counts_since"] >= before["counts_since"] and set(after["counts"]) <= {"pets", "clothes"}


def test_an_upload_and_a_drawing_are_classified_like_camera_frames(teaching):
    trouser = (SAMPLES_DIR / "fashion-2-trouser.jpg").read_bytes()
    status, answer = teaching.call("/api/classify?model=digits", (SAMPLES_DIR / "digits-1-7.jpg").read_bytes())
    assert status == 200 and answer["label"] == "7" and answer["source"] == "upload"
    status, answer = teaching.call("/api/classify?add=clothes", trouser)  # classified by the running model
    assert status == 200 and answer["model"] == "digits"
    assert teaching.call("/api/teach")[1]["classes"] == {"clothes": 1}, "and kept as an example"


@pytest.mark.parametrize("path, data, origin, code, message", [
    ("/api/teach/capture?class=../x", b"", None, 400, "a class name is 1-32 letters"),
    ("/api/teach/capture?class=train", b"", None, 400, "that name marks a split of a photo folder"),
    ("/api/teach/fit?name=things", b"", None, 400, "at least 2 classes of 2 examples"),
    ("/api/teach/fit?name=../x", b"", None, 400, "a model name is 1-64 letters"),
    ("/api/teach/capture?class=pets", b"", "http://evil.example", 403, "cross-origin"),
    ("/api/classify", b"not an image", None, 400, "the upload: not a readable image"),
    ("/api/classify?model=/etc/passwd", b"", None, 400, "model must be a bundled model's name"),
])
def test_bad_teaching_requests_are_one_line_and_change_nothing(teaching, path, data, origin, code, message):
    status, answer = teaching.call(path, data, origin)
    assert status == code and message in answer, answer
    assert teaching.call("/api/teach")[1]["classes"] == {}


def test_an_upload_over_8_mib_is_refused_before_it_is_read(teaching):
    request = urllib.request.Request(teaching.url("/api/classify"), data=b"x", method="POST",
                                     headers={"Content-Length": str((8 << 20) + 1)})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413


TEACH_READY = "!document.getElementById('teach').hidden && !document.getElementById('draw-card').hidden"


@pytest.mark.browser
def test_a_browser_teaches_two_classes_uploads_a_photo_and_draws_a_digit(tmp_path, teaching):
    executable = chromium_or_skip()
    browser = Chromium(executable, tmp_path / "profile")

    def run(expression: str, session: str) -> Any:
        return browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True}, session)["result"].get("value")

    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 1600, "deviceScaleFactor": 1,
                                                             "mobile": True}, session)
        browser.send("Page.navigate", {"url": teaching.url("/")}, session)
        assert wait_until(lambda: run(TEACH_READY, session), STEP_S)
        for label in ("pets", "clothes"):
            run(f"document.getElementById('class-name').value = '{label}'; "
                "document.getElementById('add-class').click()", session)
        assert wait_until(lambda: run("document.querySelectorAll('#classes button[data-class]').length",
                                      session) == 2, STEP_S)
        for label, photos in (("pets", PETS), ("clothes", CLOTHES)):
            for number, photo in enumerate(photos, start=1):
                teaching.show(photo)
                run(f"document.querySelector('#classes button[data-class=\"{label}\"]').click()", session)
                assert wait_until(lambda: teaching.call("/api/teach")[1]["classes"].get(label) == number, STEP_S)
        run("document.getElementById('model-name').value = 'seen'; document.getElementById('fit').click()", session)
        assert wait_until(lambda: teaching.status().get("model") == "seen", FIT_S), teaching.call("/api/teach")
        teaching.show(PETS[0])
        assert wait_until(lambda: (run("document.getElementById('now').textContent", session) or "")
                          .startswith("pets"), STEP_S), "the page shows the new model's answers"

        document = browser.send("DOM.getDocument", {}, session)["root"]["nodeId"]
        upload = browser.send("DOM.querySelector", {"nodeId": document, "selector": "#upload"}, session)["nodeId"]
        browser.send("DOM.setFileInputFiles", {"nodeId": upload,
                                               "files": [str(SAMPLES_DIR / "fashion-3-dress.jpg")]}, session)
        assert wait_until(lambda: (run("document.getElementById('upload-answer').textContent", session) or "")
                          .startswith("clothes"), STEP_S), run("document.getElementById('upload-answer').textContent",
                                                           session)

        assert wait_until(lambda: run("document.querySelectorAll('#results li').length", session) == 30, STEP_S)
        box = run("(() => { const pad = document.getElementById('draw'); pad.scrollIntoView({block: 'center'}); "
                  "const b = pad.getBoundingClientRect(); "
                  "return [b.left, b.top, b.width]; })()", session)
        left, top, width = box
        stroke = [(80, 90), (110, 60), (170, 60), (195, 100), (90, 220), (205, 220)]  # a "2", in canvas pixels
        points = [(left + x * width / 280, top + y * width / 280) for x, y in stroke]
        browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": points[0][0], "y": points[0][1],
                                                  "button": "left", "clickCount": 1}, session)
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for step in range(1, 11):
                browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x0 + (x1 - x0) * step / 10,
                                                          "y": y0 + (y1 - y0) * step / 10, "button": "left",
                                                          "buttons": 1}, session)
        browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": points[-1][0], "y": points[-1][1],
                                                  "button": "left", "clickCount": 1}, session)
        run("document.getElementById('draw-classify').click()", session)
        assert wait_until(lambda: (run("document.getElementById('draw-answer').textContent", session) or "")
                          .startswith("2 "), STEP_S), run("document.getElementById('draw-answer').textContent", session)
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        (tmp_path / "teach.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()
