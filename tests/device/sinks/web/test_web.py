"""The web view: every endpoint of a real service (digits model, a looping folder of photos), the token,
bad requests, load (stream limit, slow and vanishing clients, 1,000 connections) and a real browser.

The service runs in-process in a thread (signals are the main thread's, so they are left out), so
its threads, file descriptors and counters can be looked at; ``piclassify run --web`` runs as a process.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
from PIL import Image

from piclassify.device.config import ConfigError, load_config
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import RELOAD, STOP, FrameLoop, LoopSettings
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sink import Sinks
from piclassify.device.core.sources import open_source
from piclassify.device.service import runner
from piclassify.device.service.notify import Notifier
from piclassify.device.sinks.web import limits as web_limits
from piclassify.device.sinks.web import metrics, render
from piclassify.device.sinks.web import server as web_server
from piclassify.device.sinks.web.auth import WebError, parse_listen
from piclassify.device.sinks.web.history import read_recent
from piclassify.device.sinks.web.page import PAGE
from piclassify.device.sinks.web.render import caption, frame_jpeg
from piclassify.device.sinks.web.sink import WebSink
from piclassify.device.sinks.web.state import LOOKS, WebView
from piclassify.device.sinks.web.status import cpu_temperature
from piclassify.shared.framing.framed import FramingSteps

from conftest import REPO, wait_until, without_backbone
from tests.helpers.browser import Chromium, chromium_or_skip, free_port

RESULT_KEYS = ["schema", "time", "model", "source", "frame", "label", "index", "score", "top", "reason", "latency_ms"]
SAMPLES = sorted((REPO / "device" / "samples").glob("digits-*.jpg"))
TOKEN = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Pipeline:
    """The bundled digits network with its framing; its backbone is left out (``without_backbone``): these tests
    are about the web view, and its timings must hold on an emulated Pi too."""
    return Pipeline.load(str(without_backbone("digits", tmp_path_factory.mktemp("digits"))))


class WebService:
    """``Service`` with ``[web]`` on, the real digits model and the bundled digit photos, looping, at 20 frames/s."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline, web: str = "",
                 config: str = "", host: str = "127.0.0.1") -> None:
        folder = tmp_path / "camera"
        folder.mkdir(exist_ok=True)
        for sample in SAMPLES:
            shutil.copy(sample, folder / sample.name)
        self.host, self.port = host, free_port(host)
        self.results_path = tmp_path / "results.jsonl"
        self.config_path = tmp_path / "piclassify.toml"
        self.config_path.write_text(
            f'model = "digits"\nsource = "{folder}"\ninterval_s = 0.05\n{config}\n'
            f'[results]\npath = "{self.results_path}"\n'
            f'[web]\nenabled = true\nhost = "{host}"\nport = {self.port}\n{web}\n')
        monkeypatch.setattr(runner, "signals_to_events", lambda events: contextlib.nullcontext())
        self.service = runner.Service(
            self.config_path, load_config(self.config_path),
            source_factory=lambda spec, size: open_source(spec, size, loop=True),
            pipeline_factory=lambda model, threads: pipeline, notifier=Notifier(None))
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        frames = 0 if "trigger" in config else 3
        assert wait_until(lambda: self.loop is not None and self.loop.ready and self.loop.counts.classified >= frames, 20), \
            self.error

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as error:  # shown by the assertion that waits for frames
            self.error = error

    @property
    def loop(self):
        return self.service.loop

    @property
    def sink(self):
        return next(sink for sink in self.service.outputs.sinks.sinks if sink.name == "web view")

    @property
    def state(self):
        return self.sink.state

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def get(self, path: str, headers: Optional[dict[str, str]] = None, method: str = "GET",
            data: Optional[bytes] = None) -> tuple[int, Any, bytes]:
        request = urllib.request.Request(self.url(path), headers=headers or {}, method=method, data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def json(self, path: str, headers: Optional[dict[str, str]] = None) -> Any:
        status, _, body = self.get(path, headers)
        assert status == 200, body
        return json.loads(body)

    def stop(self) -> None:
        self.service.events.put(STOP)
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def start_web(tmp_path, monkeypatch, digits):
    started: list[WebService] = []

    def start(**options: Any) -> WebService:
        started.append(WebService(tmp_path, monkeypatch, digits, **options))
        return started[-1]

    yield start
    for service in started:
        if service.thread.is_alive():
            service.stop()


def raw_request(host: str, port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers before closing."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        with contextlib.suppress(OSError):  # the server may answer (and close) before reading it all
            connection.sendall(data)
        chunks = []
        with contextlib.suppress(OSError):
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    assert match, answer[:200]
    return int(match.group(1))


class StreamReader:
    """A client of ``/stream.mjpg``: reads the multipart answer part by part."""

    def __init__(self, service: WebService, path: str = "/stream.mjpg") -> None:
        self.response = urllib.request.urlopen(service.url(path), timeout=10)
        content_type = self.response.headers["Content-Type"]
        assert content_type.startswith("multipart/x-mixed-replace; boundary=")
        self.boundary = content_type.split("boundary=", 1)[1].encode()

    def part(self) -> tuple[dict[str, str], bytes]:
        line = self.response.readline()
        assert line == b"--" + self.boundary + b"\r\n", line
        headers = {}
        while (line := self.response.readline()) != b"\r\n":
            key, value = line.decode().split(":", 1)
            headers[key.strip().lower()] = value.strip()
        body = self.response.read(int(headers["content-length"]))
        assert self.response.read(2) == b"\r\n"
        return headers, body

    def close(self) -> None:
        self.response.close()


def sse_events(service: WebService, count: int, headers: Optional[dict[str, str]] = None) -> list[dict[str, str]]:
    """The first ``count`` events of ``/api/events``, as their fields."""
    request = urllib.request.Request(service.url("/api/events"), headers=headers or {})
    events, fields = [], {}
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        while len(events) < count:
            line = response.readline().decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    events.append(fields)
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value.removeprefix(" ")
    return events


# -- every endpoint ---------------------------------------------------------------------------

def test_the_page_is_one_small_offline_file():
    assert len(PAGE) <= 50_000
    text = PAGE.decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "no external assets"
    assert "http://" not in text and "https://" not in text and "@import" not in text
    assert 'name="viewport"' in text


def test_every_endpoint_of_the_service(start_web):
    service = start_web()
    status, headers, body = service.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and body == PAGE
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    status, headers, body = service.get("/snapshot.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    snapshot = Image.open(io.BytesIO(body))
    assert snapshot.format == "JPEG" and snapshot.size == (320, 240)

    status, headers, body = service.get("/model-input.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    model_input = Image.open(io.BytesIO(body))
    assert (model_input.format, model_input.size, model_input.mode) == ("PNG", (28, 28), "L")
    assert model_input.getextrema()[1] > 128, "a digit, light on dark, as the model saw it"

    info = service.json("/api/status")
    assert (info["model"], info["mode"], info["input"]) == ("digits", "continuous", [28, 28])
    assert info["accuracy"] > 0.99 and info["accuracy_on"] == "mnist test" and info["runtime"].startswith(("ai-edge-litert", "tflite-runtime", "tensorflow"))
    assert info["source"].startswith("images:") and info["healthy"] is True
    assert info["frames"] >= 3 and info["uptime_s"] > 0 and info["fps"] > 0
    assert set(info["counts"]) <= {"7", "2", "1", "0"} and sum(info["counts"].values()) >= 3
    assert info["results_log"]["path"] == str(service.results_path) and info["results_log"]["bytes"] > 0
    assert "fps" not in info["status"], "the page shows one rate, the fps above"
    assert info["status"].startswith("last: ") and list(info["last"])[:len(RESULT_KEYS)] == RESULT_KEYS
    assert abs(datetime.fromisoformat(info["counts_since"]).timestamp() - time.time()) < 60
    assert "cpu_temperature_c" in info

    page = service.json("/api/results?limit=3")
    assert page["from"] == "results log" and len(page["results"]) == 3 and page["more"] is True
    for record in page["results"]:
        assert list(record) == RESULT_KEYS + ["id"] and record["model"] == "digits"
    ids = [record["id"] for record in page["results"]]
    assert ids == sorted(ids)
    assert wait_until(lambda: service.json(f"/api/results?since={ids[-1]}")["results"], 5)
    newer = service.json(f"/api/results?since={ids[-1]}&limit=1000")
    assert newer["more"] is False and all(record["id"] > ids[-1] for record in newer["results"])
    assert service.get("/api/results?limit=0")[0] == 400 and service.get("/api/results?since=x")[0] == 400

    status, headers, body = service.get("/metrics")
    assert status == 200 and headers["Content-Type"] == metrics.CONTENT_TYPE
    values = parse_metrics(body.decode())
    assert values["piclassify_frames_total"] >= 3 and values["piclassify_uptime_seconds"] > 0
    assert sum(v for k, v in values.items() if k.startswith("piclassify_results_total{label=")) >= 3
    for name in ("nothing_in_view_total", "camera_errors_total", "stream_frames_dropped_total",
                 'stage_seconds_sum{stage="invoke"}', 'stage_seconds_count{stage="preprocess"}'):
        assert f"piclassify_{name}" in values, name
    assert all(line.startswith(("# HELP piclassify_", "# TYPE piclassify_", "piclassify_"))
               for line in body.decode().splitlines())

    assert service.get("/healthz")[:3:2] == (200, b"ok\n")
    assert service.get("/api/trigger", method="POST")[0] == 409, "continuous mode: nothing to trigger"
    assert service.get("/api/trigger")[0] == 405 and service.get("/", method="POST")[0] == 405
    service.stop()
    with pytest.raises(OSError):  # the server is gone with the service
        urllib.request.urlopen(service.url("/healthz"), timeout=2)


def parse_metrics(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_the_stream_sends_jpeg_frames_with_the_label_drawn_at_the_capped_rate(start_web):
    service = start_web(web="stream_fps = 4")
    stream = StreamReader(service)
    try:
        parts = [stream.part() for _ in range(4)]
        arrived = []
        for _ in range(4):
            stream.part()
            arrived.append(time.monotonic())
    finally:
        stream.close()
    for headers, body in parts[:2]:
        assert headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(body))
        image.load()
        assert image.format == "JPEG" and image.size == (320, 240)
        band = image.convert("L").crop((0, 0, 320, 30))
        assert band.getextrema()[1] > 200, "white caption on a dark band"
    gaps = [b - a for a, b in zip(arrived, arrived[1:])]
    assert min(gaps) >= 0.2, gaps  # at most 4 frames/s, while the loop classifies 20
    state = service.state
    assert state.stream_dropped > 0 and state.encoded <= state.stream_sent + 2


def test_an_event_per_result_in_the_result_schema(start_web):
    service = start_web()
    events = sse_events(service, 2)
    for event in events:
        record = json.loads(event["data"])
        assert list(record) == RESULT_KEYS
        assert record["model"] == "digits" and record["label"] in {"7", "2", "1", "0"}
        assert event["id"].isdigit()
    assert int(events[1]["id"]) > int(events[0]["id"])
    replay = sse_events(service, 1, {"Last-Event-ID": events[0]["id"]})
    assert replay[0]["id"] == events[1]["id"], "a reconnecting client gets what it missed"
    for odd in ("²", "9" * 5000, "-1"):  # not an id: the events from now on, as for a new client
        assert len(sse_events(service, 1, {"Last-Event-ID": odd})) == 1


def test_events_come_in_batches_at_most_stream_fps_a_second(start_web):
    """Every result, in order, but in at most ``stream_fps`` writes a second: one write per result cost the loop 10%
    of its frame time at camera rates (``scripts/bench_web.py``, "1 page")."""
    service = start_web(web="stream_fps = 2")
    writes, text = 0, b""
    with urllib.request.urlopen(service.url("/api/events"), timeout=10) as response:
        start = time.monotonic()
        while time.monotonic() - start < 2.0:
            text += response.read1(1 << 20)
            writes += 1
    ids = [int(line[3:]) for line in text.decode().splitlines() if line.startswith("id:")]
    listed = [result["id"] for result in service.json("/api/results?limit=100")["results"]]
    assert ids == [id_ for id_ in sorted(listed) if ids[0] <= id_ <= ids[-1]], "none left out, none twice"
    assert writes <= 2 * 2 + 2 < len(ids), f"{len(ids)} results in {writes} writes"


def test_every_picture_is_drawn_on_one_long_lived_thread_whichever_request_asks(monkeypatch):
    """OpenCV keeps some state for each thread that calls it and never frees it when the thread ends; the server
    starts a thread per request, so drawing there grew the service by 15 MB an hour (``scripts/bench_soak.py``)."""
    drawn_on = []

    def imencode(*args, **kwargs):
        drawn_on.append(threading.get_ident())
        return real_imencode(*args, **kwargs)

    real_imencode = render.cv2.imencode
    monkeypatch.setattr(render.cv2, "imencode", imencode)
    frame = Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0, "test")
    requests = [threading.Thread(target=draw) for draw in (lambda: frame_jpeg(frame, "7"),
                                                           lambda: render.model_input_png(None, (28, 28))) * 3]
    for request in requests:
        request.start()
        request.join()
    assert len(drawn_on) == 6 and len(set(drawn_on)) == 1
    assert drawn_on[0] not in {request.ident for request in requests} | {threading.get_ident()}


def test_a_frame_its_picture_and_its_model_input_by_number(start_web, digits):
    """``/api/frame`` names the frame to show and gives its result; ``snapshot.jpg`` and ``model-input.png`` give that
    frame's, by its number, whichever frame is newest by then, while the last ``LOOKS`` are kept."""
    model_inputs = {label: model_input for label, _, _, model_input in digit_looks(digits)}
    service = start_web(web="stream_fps = 20")
    first = service.json("/api/frame")
    assert first["seq"] > 0 and first["listed"] is True and list(first["result"]) == RESULT_KEYS + ["id"]
    shown = [first]
    while len(shown) <= LOOKS:
        shown.append(service.json(f"/api/frame?after={shown[-1]['seq']}"))
        assert shown[-1]["seq"] > shown[-2]["seq"]
    for frame in shown[1:3]:
        number = f"?seq={frame['seq']}"
        status, headers, jpeg = service.get("/snapshot.jpg" + number)
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert service.get("/snapshot.jpg" + number)[2] == jpeg, "encoded once"
        status, _, png = service.get("/model-input.png" + number)
        assert status == 200 and np.array_equal(gray(png), model_inputs[frame["result"]["label"]])
    assert service.get(f"/snapshot.jpg?seq={first['seq']}")[0] == 404, "no longer kept"
    assert service.get(f"/model-input.png?seq={first['seq']}")[0] == 404
    for bad in ("/snapshot.jpg?seq=x", "/model-input.png?seq=-1", "/snapshot.jpg?seq=%D9%A3", "/api/frame?after=1.5"):
        assert service.get(bad)[0] == 400, bad


def test_a_reload_serves_the_web_view_again_on_its_new_settings(start_web):
    service = start_web()
    stream = StreamReader(service)
    stream.part()
    text = service.config_path.read_text()
    service.config_path.write_text(text.replace("[web]\n", "[web]\nstream_fps = 2\n"))
    service.service.events.put(RELOAD)
    assert wait_until(lambda: service.sink.server.frame_period == 0.5, 10)
    with pytest.raises((OSError, AssertionError)):  # the old server, and its streams, are gone
        for _ in range(50):
            stream.part()
    stream.close()
    assert service.json("/api/status")["frames"] > 0


class StubLoop:
    """What ``/healthz`` asks of the loop."""

    def __init__(self, flowing: bool) -> None:
        self.flowing = flowing

    def frames_flowing(self) -> bool:
        return self.flowing


def test_healthz_is_503_when_frames_stop_or_before_the_loop_runs():
    loops: list = [None]
    view = WebView("digits", (0.9951, "mnist test"), "x", "memory", "continuous", (28, 28), None, lambda: None, lambda: loops[0])
    sink = WebSink(view, "127.0.0.1", 0)
    url = "http://127.0.0.1:%d/healthz" % sink.address[1]
    try:
        for loop, expected in ((None, 503), (StubLoop(False), 503), (StubLoop(True), 200)):
            loops[0] = loop
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == expected
            except urllib.error.HTTPError as error:
                assert error.code == expected
                error.close()
    finally:
        sink.close()


def test_frames_flow_within_the_watchdog_timeout_or_three_intervals():
    loop = FrameLoop(lambda: None, None, Sinks([]), LoopSettings(interval_s=20.0))
    assert not loop.frames_flowing(), "no frame yet"
    loop.ready, loop.counts.frame_at = True, time.monotonic() - 29
    assert loop.frames_flowing()
    loop.counts.frame_at = time.monotonic() - 59
    assert loop.frames_flowing(), "three intervals of 20 s"
    loop.counts.frame_at = time.monotonic() - 61
    assert not loop.frames_flowing()
    loop.counts.frame_at = time.monotonic()
    loop._camera_fault = "stopped delivering frames"
    assert not loop.frames_flowing()


def test_history_comes_from_the_results_log_and_survives_a_restart(tmp_path, start_web):
    old = {"schema": 1, "time": "2024-01-02T03:04:05.678+00:00", "model": "digits", "source": "earlier", "frame": 1,
           "label": "3", "index": 3, "score": 0.9, "top": [["3", 0.9]], "reason": None, "latency_ms": 1.0}
    (tmp_path / "results.jsonl.1").write_text(json.dumps(old) + "\n")
    (tmp_path / "results.jsonl").write_text('{"torn": \n')
    service = start_web()
    results = service.json("/api/results?limit=1000")["results"]
    assert results[0] == {**old, "id": 1704164645678001} and results[1]["source"] != "earlier"
    assert service.json("/api/results?since=1704164645678001&limit=1000")["results"][0]["source"] != "earlier"


def test_results_are_read_back_newest_first_across_rotated_files(tmp_path):
    path = tmp_path / "results.jsonl"
    lines = [json.dumps({"time": f"2024-01-01T00:00:{second:02d}.000+00:00", "frame": second})
             for second in range(30)]
    (tmp_path / "results.jsonl.2").write_text("\n".join(lines[:10]) + "\n")
    (tmp_path / "results.jsonl.1").write_text("\n".join(lines[10:20]) + "\nnot json\n")
    path.write_text("\n".join(lines[20:]) + "\n" + '{"time": "2024-01-01T00:00:59')  # a torn last line
    records, more = read_recent(path, None, 15)
    assert [r["frame"] for r in records] == list(range(15, 30)) and more
    records, more = read_recent(path, records[-3]["id"], 100)
    assert [r["frame"] for r in records] == [28, 29] and not more
    assert read_recent(tmp_path / "missing.jsonl", None, 5) == ([], False)


@pytest.mark.parametrize("odd", ['{"time": "2026-01-01T00:00:00+00:00", "frame": 1e999}',
                                 '{"time": "0001-01-01T00:00:00", "frame": 1}',
                                 '{"time": "2026-01-01T00:00:00+00:00", "frame": "x"}'])
def test_a_log_line_that_is_no_result_is_skipped_not_fatal(tmp_path, odd):
    path = tmp_path / "results.jsonl"
    good = json.dumps({"time": "2024-01-01T00:00:00.000+00:00", "frame": 3})
    path.write_text(good + "\n" + odd + "\n")
    assert [r["frame"] for r in read_recent(path, None, 10)[0]] == [3]


def test_a_request_reads_a_bounded_number_of_lines_however_long_the_log(tmp_path):
    from piclassify.device.sinks.web.history import MAX_LINES_READ

    path = tmp_path / "results.jsonl"
    good = json.dumps({"time": "2024-01-01T00:00:00.000+00:00", "frame": 3})
    path.write_text(good + "\n" + '{"other": 1}\n' * (MAX_LINES_READ + 10))
    assert read_recent(path, None, 10) == ([], True)  # "more": ask again, never seconds of CPU in one request


# -- security -----------------------------------------------------------------------------------

def test_a_token_is_required_when_one_is_configured_and_compared_in_full(tmp_path, start_web, caplog):
    caplog.set_level("DEBUG")
    token_file = tmp_path / "web-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    service = start_web(host="127.0.0.2", web=f'token_file = "{token_file}"')  # stands for a LAN address
    for path in ("/", "/api/status", "/stream.mjpg", "/snapshot.jpg", "/metrics", "/api/events", "/api/frame",
                 "/model-input.png?seq=1"):
        status, headers, _ = service.get(path)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer"), path
    assert service.get("/api/status", {"Authorization": "Bearer " + TOKEN[:-1] + "0"})[0] == 401
    assert service.get("/api/status?token=" + TOKEN[:32])[0] == 401
    assert service.get("/api/status", {"Authorization": "Bearer " + TOKEN})[0] == 200
    assert service.get("/api/status?token=" + TOKEN)[0] == 200
    assert service.get("/snapshot.jpg?token=" + TOKEN)[0] == 200
    assert service.get("/healthz")[0] == 200, "the health check needs no token"
    assert service.get("/api/trigger", method="POST")[0] == 401
    bad = f"GET /api/status?token={TOKEN} HTTP/1.1 x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    assert status_of(raw_request(service.host, service.port, bad)) == 400
    assert "/api/status" in caplog.text and TOKEN not in caplog.text, "requests are logged, the token never"


def test_the_trigger_button_captures_a_frame_same_origin_only(tmp_path, start_web):
    service = start_web(config='mode = "trigger"')  # no button.pin: the web view's button is the trigger
    assert service.results_path.read_bytes() == b""
    origin = {"Origin": f"http://{service.host}:{service.port}"}
    assert service.get("/api/trigger", {"Origin": "http://evil.example"}, "POST")[0] == 403
    assert service.get("/api/trigger", {"Referer": "http://evil.example/page"}, "POST")[0] == 403
    assert service.results_path.read_bytes() == b""
    status, _, body = service.get("/api/trigger", origin, "POST", data=b"x" * 100)
    assert (status, json.loads(body)) == (202, {"queued": True})
    assert wait_until(lambda: service.results_path.read_bytes().count(b"\n") == 1)
    assert service.get("/healthz")[0] == 200, "trigger mode waiting for a press is healthy"
    assert service.json("/api/status")["mode"] == "trigger"


def test_a_page_elsewhere_cannot_reach_the_loopback_view_by_dns_rebinding(start_web):
    service = start_web()
    assert service.get("/api/status", {"Host": "evil.example:8080"})[0] == 403
    assert service.get("/api/status", {"Host": f"localhost:{service.port}"})[0] == 200


def test_any_address_but_loopback_needs_a_token_file(tmp_path):
    config = tmp_path / "piclassify.toml"
    config.write_text('[web]\nenabled = true\nhost = "0.0.0.0"\n')
    with pytest.raises(ConfigError, match=r"web.token_file is required when web.host = '0.0.0.0'"):
        load_config(config)
    config.write_text('[web]\nenabled = true\nhost = "pi.local"\n')
    with pytest.raises(ConfigError, match="web.host must be an IP address"):
        load_config(config)
    config.write_text('[web]\nenabled = true\nhost = "::"\ntoken_file = "/etc/piclassify/web-token"\n')
    assert load_config(config).web.host == "::"


def test_a_bad_token_file_or_a_taken_port_stops_the_service_naming_it(tmp_path, digits):
    short = tmp_path / "short"
    short.write_text("abc\n")
    config = tmp_path / "piclassify.toml"
    service = lambda: runner.Service(config, load_config(config), notifier=Notifier(None),  # noqa: E731
                                     source_factory=lambda spec, size: open_source(spec, size),
                                     pipeline_factory=lambda model, threads: digits)
    results = f'[results]\npath = "{tmp_path / "results.jsonl"}"\n'
    config.write_text(f'source = "{SAMPLES[0]}"\n{results}[web]\nenabled = true\ntoken_file = "{short}"\n')
    with pytest.raises(WebError, match=r"web.token_file = '.*short': not a token of at least 32"):
        service().run()
    config.write_text(f'source = "{SAMPLES[0]}"\n{results}[web]\nenabled = true\n'
                      f'token_file = "{tmp_path / "missing"}"\n')
    with pytest.raises(WebError, match=r"web.token_file = '.*missing': cannot read token: No such file"):
        service().run()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config.write_text(f'source = "{SAMPLES[0]}"\n{results}[web]\nenabled = true\n'
                          f'port = {taken.getsockname()[1]}\n')
        with pytest.raises(WebError, match="cannot serve the web view on 127.0.0.1:.*in use"):
            service().run()


def test_bad_requests_get_a_4xx_and_no_traceback(start_web, capfd, caplog):
    service = start_web()
    host, port = service.host, service.port
    cases = {
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n": 404,
        b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n": 404,
        b"GET //etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n": 404,
        b"GET /nothing-here HTTP/1.0\r\n\r\n": 404,
        b"GET http://evil.example/ HTTP/1.1\r\n\r\n": 400,
        b"this is not http\r\n\r\n": 400,
        b"GET / HTTP/9.9\r\n\r\n": 400,
        b"GET / HTTP/2.0\r\n\r\n": 400,
        b"GET /\x00 HTTP/1.1\r\n\r\n": 404,
        b"GET\r\n\r\n": 400,
        b"\r\n\r\n": 400,
        b"BREW / HTTP/1.1\r\n\r\n": 405,
        b"DELETE /api/trigger HTTP/1.1\r\n\r\n": 405,
        b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n": 431,
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n": 431,
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n": 414,
        b"POST /api/trigger HTTP/1.1\r\nContent-Length: -5\r\n\r\n": 400,
        b"POST /api/trigger HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n": 413,
        b"GET /api/results?limit=1&" + b"&".join(b"k%d=1" % n for n in range(20)) + b" HTTP/1.1\r\n\r\n": 400,
    }
    for request, expected in cases.items():
        assert status_of(raw_request(host, port, request)) == expected, request[:60]
    assert service.get("/healthz")[0] == 200, "still serving"
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err + caplog.text


# -- load -----------------------------------------------------------------------------------------

def test_the_stream_limit_answers_503_with_retry_after(start_web):
    service = start_web(web="max_streams = 2")
    first, second = StreamReader(service), StreamReader(service)
    try:
        first.part()
        second.part()
        status, headers, _ = service.get("/stream.mjpg")
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert service.get("/snapshot.jpg")[0] == 200, "other requests are still served"
        first.close()
        assert wait_until(lambda: service.sink.server.streams.used == 1, 5), "a closed stream frees its slot"
        third = StreamReader(service)
        third.part()
        third.close()
    finally:
        second.close()


def test_a_stalled_client_blocks_neither_the_loop_nor_other_clients(start_web):
    service = start_web(web="stream_fps = 30")
    stalled = socket.create_connection((service.host, service.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")  # and never reads
    try:
        before = service.loop.counts.classified
        time.sleep(2.0)
        assert service.loop.counts.classified - before >= 20, "the loop went on at its 20 frames/s"
        reader = StreamReader(service)
        try:
            started = time.monotonic()
            frames = [reader.part()[1] for _ in range(5)]
            assert time.monotonic() - started < 2.0, "five frames at 20 frames/s, not held up"
            assert all(Image.open(io.BytesIO(frame)).format == "JPEG" for frame in frames)
        finally:
            reader.close()
    finally:
        stalled.close()


def test_clients_that_never_read_give_their_stream_slots_back(start_web, monkeypatch):
    """Stream clients that stop reading fill a small send buffer, then time out: they cannot keep every slot."""
    monkeypatch.setattr(web_server.Handler, "timeout", 1.0)  # the socket timeout (10 s as shipped)
    service = start_web(web="stream_fps = 30\nmax_streams = 2")
    stalled = []
    for _ in range(2):
        client = socket.create_connection((service.host, service.port))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")  # and never reads
        stalled.append(client)
    try:
        assert wait_until(lambda: service.sink.server.streams.used == 2, 5)
        assert wait_until(lambda: service.sink.server.streams.used == 0, 10), "both slots came back"
        reader = StreamReader(service)
        reader.part()
        reader.close()
    finally:
        for client in stalled:
            client.close()


def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline(start_web, monkeypatch):
    monkeypatch.setattr(web_limits, "HEADER_DEADLINE_S", 1.5)
    service = start_web()
    trickler = socket.create_connection((service.host, service.port))
    trickler.settimeout(0.2)
    started, closed = time.monotonic(), False
    trickler.sendall(b"GET /api/status HTTP/1.1\r\n")
    while not closed and time.monotonic() - started < 10:
        try:
            trickler.sendall(b"X")  # a byte every 0.2 s: each would reset a per-read timeout
            closed = trickler.recv(1) == b""
        except socket.timeout:
            continue
        except OSError:
            closed = True
    trickler.close()
    assert closed, "cut off"
    assert time.monotonic() - started < 5, "closed at the deadline, not after minutes"
    assert service.get("/healthz")[0] == 200


def test_api_results_reads_a_bounded_number_of_lines_a_second_for_all_clients(start_web, monkeypatch):
    """Readers looping on /api/results are slowed to the budget (they wait their turn), and refused beyond a wait."""
    monkeypatch.setattr(web_limits, "RESULTS_LINES_PER_S", 1000.0)
    monkeypatch.setattr(web_limits, "RESULTS_BURST", 2000)
    monkeypatch.setattr(web_limits, "RESULTS_WAIT_S", 1.5)
    service = start_web()
    started = time.monotonic()
    codes = [service.get("/api/results?limit=1000")[0] for _ in range(3)]
    assert codes == [200, 200, 200] and time.monotonic() - started >= 0.8, "the third waited for its turn"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: service.get("/api/results?limit=1000"), range(4)))
    codes = sorted(status for status, _, _ in answers)
    assert codes[0] == 200 and codes[-1] == 429, codes  # beyond 1.5 s of waiting: refused at once
    assert next(headers["Retry-After"] for status, headers, _ in answers if status == 429) == "1"


def test_no_jpeg_is_encoded_and_no_model_input_kept_while_nobody_watches(start_web):
    service = start_web()
    assert service.get("/healthz")[0] == 200
    assert wait_until(lambda: service.loop.counts.classified >= 10, 5)
    assert service.state.encoded == 0 and service.state.delivery.model_input is None
    assert not service.loop.sinks.wants_model_input()
    readers = [StreamReader(service) for _ in range(3)]
    try:
        for reader in readers:
            for _ in range(3):
                reader.part()
    finally:
        for reader in readers:
            reader.close()
    state = service.state
    assert state.encoded < state.stream_sent, "each frame encoded once for all three clients"


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_connections_leak_no_thread_and_no_file_descriptor(start_web):
    service = start_web()
    assert service.get("/healthz")[0] == 200
    time.sleep(0.5)
    threads, fds = threading.active_count(), _fds()
    address = (service.host, service.port)
    for number in range(1000):
        with socket.create_connection(address, timeout=10) as connection:
            kind = number % 5
            if kind == 1:
                connection.sendall(b"GET /healthz HTTP/1.1\r\n")  # headers never finished
            elif kind == 2:
                connection.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                connection.recv(1024)
            elif kind == 3 and number % 50 == 3:
                connection.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
                connection.recv(4096)  # mid-stream, then gone
            elif kind == 4 and number % 50 == 4:
                connection.sendall(b"GET /api/events HTTP/1.0\r\n\r\n")
                connection.recv(64)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                                  if kind == 0 else b"\x00" * 8)  # some reset, some closed politely
    assert wait_until(lambda: threading.active_count() <= threads and _fds() <= fds, 15), \
        (threading.active_count(), threads, _fds(), fds)
    assert service.get("/healthz")[0] == 200


# -- piclassify run --web, web-token --------------------------------------------------------------

def test_run_web_serves_recent_results_from_memory_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "piclassify.device.commands.cli", "run", "--model", "digits", "--source",
         str(REPO / "device" / "samples" / "digits-*.jpg"), "--repeat", "--max-fps", "20", "--web", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def results() -> list:
            try:
                with urllib.request.urlopen(url + "/api/results?limit=5", timeout=5) as response:
                    answer = json.loads(response.read())
            except OSError:
                return []
            assert answer["from"] == "memory"
            return answer["results"]

        assert wait_until(lambda: len(results()) == 5, 30)
        with urllib.request.urlopen(url + "/api/status", timeout=5) as response:
            info = json.loads(response.read())
        assert info["results_log"] is None and info["model"] == "digits"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert f"web view on http://127.0.0.1:{port}/" in err and "Traceback" not in err
    assert re.search(r"#\d+ .*digits-1-7\.jpg: 7 \(", out)


def test_run_web_on_another_address_needs_a_token_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "piclassify.device.commands.cli", "run", "--model", "digits", "--source",
                           str(SAMPLES[0]), "--web", "0.0.0.0:8080"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "piclassify: error: --web 0.0.0.0:8080: any address but loopback needs --web-token-file "
        "(make one with `piclassify web-token --out FILE`)")
    assert parse_listen("8080") == ("127.0.0.1", 8080) and parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("pi.local:80", "0.0.0.0:0", "x", "[::1]80"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_web_token_writes_a_fresh_secret_readable_by_its_owner_only(tmp_path):
    from piclassify.device.commands.cli import main

    path = tmp_path / "web-token"
    assert main(["web-token", "--out", str(path)]) == 0
    first = path.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert main(["web-token", "--out", str(path)]) == 0
    assert path.read_text() != first and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_metrics_text_escapes_label_values():
    text = metrics.render([metrics.Metric("results_total", "counter", "per label\nand more",
                                          [("", {"label": 'a "b"\\c\nd'}, 3)]), metrics.gauge("up", "x", 0.5)])
    assert text == ('# HELP piclassify_results_total per label\\nand more\n# TYPE piclassify_results_total counter\n'
                    'piclassify_results_total{label="a \\"b\\"\\\\c\\nd"} 3\n'
                    '# HELP piclassify_up x\n# TYPE piclassify_up gauge\npiclassify_up 0.5\n')


def test_cpu_temperature_prefers_the_cpu_zone(tmp_path):
    for number, (kind, milli) in enumerate((("acpitz", "30000"), ("cpu-thermal", "48312"))):
        zone = tmp_path / f"thermal_zone{number}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")
    assert cpu_temperature(tmp_path) == pytest.approx(48.312)
    assert cpu_temperature(tmp_path / "none") is None


# -- a real browser -------------------------------------------------------------------------------

READY = """(() => {
  const live = document.getElementById("live");
  const label = document.querySelector("#results li:not(.empty) .l");
  const input = document.getElementById("input");
  return {live: live.naturalWidth, input: input.naturalWidth, label: label ? label.textContent : null,
          status: document.querySelectorAll("#status dt").length,
          counts: document.querySelectorAll("#counts tr").length, trigger: document.getElementById("trigger").hidden};
})()"""


STATUS_ROWS = """Object.fromEntries([...document.querySelectorAll("#status dt")].map(
  (dt) => [dt.textContent, dt.nextElementSibling.textContent]).concat(
  [["counts heading", document.getElementById("counts-since").textContent],
   ["rates", (document.body.innerText.match(/\\bfps\\b|a second/g) || []).length]]))"""


INPUT_BLANKS = """new Promise((done) => {
  let looks = 0, blank = 0;
  const timer = setInterval(() => {
    blank += document.getElementById("input").naturalWidth === 0;
    if (++looks === 200) { clearInterval(timer); done(blank); }
  }, 5);
})"""


@pytest.mark.browser
def test_a_browser_shows_the_live_view_and_the_results(tmp_path, start_web):
    executable = chromium_or_skip()
    service = start_web()
    browser = Chromium(executable, tmp_path / "profile")
    try:
        for name, width, height, mobile in (("phone", 390, 844, True), ("desktop", 1280, 860, False)):
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                 "deviceScaleFactor": 1, "mobile": mobile}, session)
            browser.send("Page.navigate", {"url": service.url("/")}, session)
            seen: dict = {}

            def ready() -> bool:
                seen.update(browser.send("Runtime.evaluate", {"expression": READY, "returnByValue": True},
                                         session)["result"].get("value") or {})
                return bool(seen.get("live") and seen.get("input") and seen.get("label") and seen.get("status"))

            assert wait_until(ready, 30), seen
            assert seen["live"] == 320 and seen["input"] == 28 and seen["label"] in {"7", "2", "1", "0"}
            blank = browser.send("Runtime.evaluate", {"expression": INPUT_BLANKS, "awaitPromise": True,
                                                      "returnByValue": True}, session)["result"]["value"]
            assert blank == 0, f"the model input went blank in {blank} of 200 looks while the next one loaded"
            assert seen["counts"] >= 1 and seen["trigger"] is True, "no trigger button in continuous mode"
            rows = browser.send("Runtime.evaluate", {"expression": STATUS_ROWS, "returnByValue": True},
                                session)["result"]["value"]
            assert rows["rates"] == 2 and rows["fps"].endswith(" frames classified a second (every frame, over "
                                                               "the last 2 s)"), "one rate, saying what it counts"
            assert "fps" not in rows["status"] and rows["frames"].endswith(" classified since the start")
            assert rows["model"].startswith("digits (99.51% right on mnist test)")
            assert re.fullmatch(r"Counts since \d\d:\d\d:\d\d( [AP]M)? \(model digits\)", rows["counts heading"]), rows
            time.sleep(0.5)  # one more status refresh, so the screenshot shows the panels filled
            shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": mobile}, session)
            path = tmp_path / f"web-{name}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            assert Image.open(path).size[0] == width
            browser.send("Target.closeTarget", {"targetId": target})
    finally:
        browser.close()


LOOK = """(() => {
  const picture = (img) => {
    if (!img.naturalWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext("2d").drawImage(img, 0, 0);
    return canvas.toDataURL("image/png");
  };
  const row = document.querySelector("#results li:not(.empty) .l");
  return {live: picture(document.getElementById("live")), input: picture(document.getElementById("input")),
          header: document.getElementById("now").textContent, row: row ? row.textContent : null};
})()"""
BELOW_CAPTION = np.s_[40:, :]  # the live frame under its caption's band
CAPTION_TEXT = np.s_[8:34, :48]  # the caption's answer ("7 (1.00)")


def gray(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32)


def digit_looks(pipeline: Pipeline) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """How each digit photo looks on the page: its answer, its live frame, its caption's white text, its model input."""
    looks = []
    for path in SAMPLES:
        with open_source(str(path)) as source:
            frame = next(source)
        steps = FramingSteps()
        result = pipeline.classify(frame, steps)
        live = gray(frame_jpeg(frame, caption(result)))
        looks.append((result.label, live[BELOW_CAPTION], live[CAPTION_TEXT] > 128,
                      steps.images["model-input"].astype(np.float32)))
    return looks


def what_the_page_shows(look: dict, photos: list) -> dict[str, Any]:
    """The answer of the digit photo that the live frame, its caption and the model input each show (recognised by
    their pixels; "?": none), and what the header and the newest results row say."""
    live = gray(base64.b64decode(look["live"].split(",", 1)[1]))
    model_input = gray(base64.b64decode(look["input"].split(",", 1)[1]))

    def nearest(distances: list[float], good: float) -> str:
        return photos[int(np.argmin(distances))][0] if min(distances) < good else "?"

    frame = [float(np.abs(live[BELOW_CAPTION] - shown).mean()) for _, shown, _, _ in photos]
    text = [float(((live[CAPTION_TEXT] > 128) != mask).sum()) for _, _, mask, _ in photos]
    seen = [float(np.abs(model_input - read).mean()) if model_input.shape == read.shape else 255.0
            for _, _, _, read in photos]
    return {"frame": nearest(frame, 6.0), "caption": nearest(text, 30), "model input": nearest(seen, 6.0),
            "header": look["header"].split(" ")[0], "newest row": look["row"]}


@pytest.mark.browser
def test_the_caption_header_model_input_and_newest_row_show_the_same_frame(tmp_path, start_web, digits):
    """Every element of the page that says what is in view says it of the same frame, look after look, while the
    frames change (the photos loop 7, 2, 1, 0 at 20 frames/s): the live frame, the answer drawn on it, the header,
    the model input and the newest results row, each recognised here by its pixels or its text."""
    executable = chromium_or_skip()
    photos = digit_looks(digits)
    service = start_web(web="stream_fps = 7")  # 20 frames/s is no multiple: the looks land on every photo
    browser = Chromium(executable, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.navigate", {"url": service.url("/")}, session)

        def look() -> dict:
            return browser.send("Runtime.evaluate", {"expression": LOOK, "returnByValue": True},
                                session)["result"].get("value") or {}

        assert wait_until(lambda: all(look().get(part) for part in ("live", "input", "header", "row")), 30), look()
        shown, disagree = [], []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            page = what_the_page_shows(look(), photos)
            shown.append(page)
            if len(set(page.values())) != 1:
                disagree.append(page)
            time.sleep(0.03)
    finally:
        browser.close()
    assert not disagree, f"{len(disagree)} of {len(shown)} looks disagree, e.g. {disagree[:3]}"
    assert len({page["frame"] for page in shown}) >= 3, "the frames changed while the page was looked at"
