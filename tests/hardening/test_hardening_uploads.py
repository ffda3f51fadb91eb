"""The service's web view against what its clients send and what it is switched to: uploads are a person's actions
(a few connections, one decode at a time, a few a second, at the size the model needs, a body that must arrive),
uploads follow the model the service runs, and a model switch keeps the server, its clients and the panel informed.
"""

from __future__ import annotations

import errno
import http.client
import io
import itertools
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from piclassify.device.core.loop import RELOAD
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.sinks.web import limits, teach_api
from piclassify.shared.files.imagefile import decode_image, read_image

from conftest import wait_until
from tests.hardening.test_hardening_taught import taught_like
from tests.helpers.service import FRAMES, Harness
from tests.helpers.teaching import STEP_S, TeachingService

DIGIT = (SAMPLES_DIR / "digits-1-7.jpg").read_bytes()
TROUSER = read_image(SAMPLES_DIR / "fashion-2-trouser.jpg")


def phone_jpeg() -> bytes:
    """A 12 MP JPEG, as a phone sends it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((3024, 4032, 3), 128, np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def teaching(tmp_path, monkeypatch):
    service = TeachingService(tmp_path, monkeypatch)
    yield service
    service.stop()


def upload(service: TeachingService, body: bytes, query: str = "") -> tuple[int, Any]:
    """``POST /api/classify``: its status, and its answer (JSON) or what went wrong with the connection."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=STEP_S)
    try:
        connection.request("POST", f"/api/classify{query}", body, {"Origin": service.url("")})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except OSError as error:
        return 0, type(error).__name__
    finally:
        connection.close()


# -- G1, G17: a crowd of uploads -------------------------------------------------------------------------

def test_a_crowd_of_uploads_holds_a_few_bodies_and_decodes_one_at_a_time(teaching, monkeypatch):
    """50 clients at once took the service from 124 MB to 4.9 GB: every body was held and decoded at once. Now a few
    connections may send one, the rest get 503 at once, and one upload is decoded at a time."""
    release, decoding, most = threading.Event(), [0], [0]

    def slow_decode(*args: Any, **kwargs: Any) -> np.ndarray:
        decoding[0] += 1
        most[0] = max(most[0], decoding[0])
        release.wait(STEP_S)
        try:
            return decode_image(*args, **kwargs)
        finally:
            decoding[0] -= 1

    monkeypatch.setattr(teach_api, "decode_image", slow_decode)
    answers: list[int] = []
    clients = [threading.Thread(target=lambda: answers.append(upload(teaching, DIGIT, "?model=digits")[0]))
               for _ in range(10)]
    for client in clients:
        client.start()
    assert wait_until(lambda: answers.count(503) == 10 - limits.MAX_UPLOADS, STEP_S), answers
    release.set()
    for client in clients:
        client.join(STEP_S)
    assert sorted(answers) == [200] * limits.MAX_UPLOADS + [503] * (10 - limits.MAX_UPLOADS)
    assert most[0] == 1, f"{most[0]} uploads decoded at once"


def test_a_phone_s_photo_is_decoded_at_the_size_the_model_needs(teaching, monkeypatch):
    """A 12 MP JPEG is decoded at 1/8 (504 x 378): enough for the backbone's 224, a fraction of the time and memory."""
    seen: list[tuple[int, ...]] = []
    panel = teaching.service.teacher
    real = panel.classify
    monkeypatch.setattr(panel, "classify", lambda rgb, model=None: (seen.append(rgb.shape), real(rgb, model))[1])
    status, answer = upload(teaching, phone_jpeg())
    assert status == 200, answer
    assert seen == [(378, 504, 3)]
    assert decode_image(phone_jpeg(), "x", shorter_side=320).shape == (378, 504, 3)


def test_uploads_are_a_few_a_second_for_all_clients_together(tmp_path, monkeypatch):
    """8 clients uploading cut the classify loop to half its rate: uploads are a person's actions."""
    monkeypatch.setattr(limits, "UPLOADS_PER_S", 0.2)
    monkeypatch.setattr(limits, "UPLOAD_BURST", 1)
    monkeypatch.setattr(limits, "UPLOAD_WAIT_S", 0.0)
    service = TeachingService(tmp_path, monkeypatch)
    try:
        assert upload(service, DIGIT, "?model=digits")[0] == 200
        status, answer = upload(service, DIGIT, "?model=digits")
        assert status == 429 and "uploads a second are classified for all clients together" in answer["error"]
    finally:
        service.stop()


def test_an_upload_s_model_runs_on_one_thread_and_switching_models_is_limited(teaching, monkeypatch):
    """The loop keeps its cores; and switching ``model=`` for every request (a model load each, 10x an upload) is not
    a way round the limit: after two, one load every 10 s."""
    from piclassify.device.core.pipeline import Pipeline

    threads: list[Optional[int]] = []
    real = Pipeline.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Pipeline, "load", classmethod(
        lambda cls, model, threads=None, runtime=None: (threads_seen(threads), real(cls, model, threads, runtime))[1]))

    def threads_seen(count: Optional[int]) -> None:
        threads.append(count)

    answers = [upload(teaching, DIGIT, f"?model={model}") for model in ("fashion", "catsdogs", "fashion", "digits")]
    assert [status for status, _ in answers] == [200, 200, 200, 429], answers
    assert "one every 10 s" in answers[-1][1]["error"]
    assert threads == [1, 1]


# -- G2: a body that trickles -------------------------------------------------------------------------------

def trickler(service: TeachingService) -> socket.socket:
    """An upload whose body comes a byte at a time (each byte would reset a per-read timeout)."""
    client = socket.create_connection(("127.0.0.1", service.port))
    client.sendall(f"POST /api/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {service.url('')}\r\n"
                   "Content-Length: 100000\r\n\r\n".encode())
    client.settimeout(0.2)
    return client


def answered(client: socket.socket) -> bytes:
    """What the server sent (b"" when it closed without a word), or None while it waits for more."""
    try:
        return client.recv(4096)
    except socket.timeout:
        return None  # type: ignore[return-value]
    except OSError:
        return b""


def test_an_upload_body_trickled_a_byte_at_a_time_is_cut_off_and_holds_no_one_else(teaching, monkeypatch):
    """70 uploads sending a byte every 3 s held every connection: everything else got 503 for 45 s."""
    monkeypatch.setattr(limits, "UPLOAD_DEADLINE_S", 1.5)
    clients = [trickler(teaching) for _ in range(limits.MAX_UPLOADS + 2)]
    started, outcome = time.monotonic(), {}
    try:
        while len(outcome) < len(clients) and time.monotonic() - started < 10:
            for number, client in enumerate(clients):
                if number not in outcome:
                    got = answered(client)
                    if got is None:
                        client.sendall(b"x")
                    else:
                        outcome[number] = (got.split(b"\r\n")[0], round(time.monotonic() - started))
            assert teaching.call("/api/status")[0] == 200, "the rest of the view is served meanwhile"
    finally:
        for client in clients:
            client.close()
    refused = [line for line, _ in outcome.values() if b"503" in line]
    cut = [seconds for line, seconds in outcome.values() if line == b""]
    assert len(refused) == 2, outcome
    assert len(cut) == limits.MAX_UPLOADS and max(cut) <= 4, outcome


# -- G12, G13: the panel's answers and its model -------------------------------------------------------

def test_undo_on_a_store_that_cannot_be_written_is_a_json_error(teaching, monkeypatch):
    assert teaching.call("/api/teach/capture?class=pets", b"")[0] == 200

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "unlink", read_only)
    status, answer = teaching.call("/api/teach/undo", b"")
    assert status == 400 and "cannot remove it: Read-only file system" in json.loads(answer)["error"]


def test_uploads_use_the_model_the_service_runs_after_a_refit_of_the_same_name(tmp_path, monkeypatch):
    """A refit keeps the model's name and path: uploads went on to the old model, cached by its path."""
    model = taught_like(tmp_path / "mine", "things")
    service = TeachingService(tmp_path, monkeypatch, model=str(model))
    try:
        photo = (SAMPLES_DIR / "catsdogs-1-cat.jpg").read_bytes()
        assert upload(service, photo)[1]["label"] in ("cats", "dogs")
        manifest = json.loads(model.with_suffix(".json").read_text())
        model.with_suffix(".json").write_text(json.dumps({**manifest, "labels": ["kitties", "puppies"]}))
        service.service.use_model(model)  # what the panel does after a fit
        assert wait_until(lambda: service.service.loop.pipeline.manifest.labels == ("kitties", "puppies"), STEP_S)
        assert upload(service, photo)[1]["label"] in ("kitties", "puppies")
    finally:
        service.stop()


# -- G7: what the config and the panel say of the model ----------------------------------------------------

def fake_teach(name: str, folder: Path, out: Path, **kwargs: Any) -> Any:
    """``teach`` as the panel calls it, without a fit: a manifest of two classes."""
    class Manifest:
        labels = ("a", "b")
        metrics = {"cross_validated_accuracy": 1.0}
    return Manifest()


def test_a_fitted_model_the_config_cannot_run_is_said_in_the_panel_not_called_running(tmp_path, monkeypatch,
                                                                                       mock_pins):
    from piclassify.device.teach import teacher as teacher_module

    mock_pins(17)
    examples = tmp_path / "examples"
    for name in ("a", "b"):
        (examples / name).mkdir(parents=True)
        for number in (1, 2):
            (examples / name / f"0000000{number}.jpg").write_bytes(b"x")
    monkeypatch.setattr(teacher_module, "teach", fake_teach)
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)], 'model = "beta"\n[feedback]\nbuzzer_labels = ["beta"]\n'
                      f'[teach]\nexamples = "{examples}"\nmodels = "{tmp_path / "models"}"\nbuttons = {{ a = 17 }}')

    def fit_and_wait() -> None:
        harness.service.teacher.fit("taught")
        wait_until(lambda: "cannot run it" in harness.service.teacher.status()["message"], 10)

    assert harness.run_while(fit_and_wait) == 0
    message = harness.service.teacher.status()["message"]
    assert "but the service cannot run it: " in message and "'beta' is not a label of model" in message
    assert harness.service.loop.pipeline.manifest.name == "beta"


def test_a_changed_model_in_the_config_wins_over_a_taught_one_on_reload(tmp_path, mock_pins):
    """A taught model runs until the config's ``model`` changes (or a restart); a reload for anything else keeps it."""
    mock_pins(17)
    harness = Harness(tmp_path, [itertools.repeat(FRAMES)],
                      f'model = "beta"\n[teach]\nexamples = "{tmp_path / "examples"}"\nbuttons = {{ a = 17 }}')

    seen: list[str] = []  # the model running after each step (the steps run in the harness's thread)

    def running() -> str:
        return harness.service.loop.pipeline.manifest.name

    def reload() -> None:
        reloads = harness.notifier.kinds().count("RELOADING")
        harness.service.events.put(RELOAD)  # what a SIGHUP does
        wait_until(lambda: harness.notifier.kinds().count("RELOADING") > reloads and
                   harness.notifier.kinds()[-1] == "READY")

    def teach_then_edit() -> None:
        harness.service.use_model(Path("taught"))
        wait_until(lambda: running() == "taught")
        seen.append(running())
        reload()  # the config as it was
        seen.append(running())
        harness.write_config(f'model = "gamma"\n[teach]\nexamples = "{tmp_path / "examples"}"\nbuttons = {{ a = 17 }}')
        reload()
        seen.append(running())

    assert harness.run_while(teach_then_edit) == 0
    assert seen == ["taught", "taught", "gamma"], "pinned while the config names the model it replaced, not after"


# -- G21: a model switch keeps the web view ------------------------------------------------------------

class EventStream(threading.Thread):
    """``/api/events``, one connection for as long as the server keeps it: the model of each result, and whether the
    stream ended."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.models, self.ended = port, [], False

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STEP_S)
        try:
            connection.request("GET", "/api/events")
            response = connection.getresponse()
            while line := response.fp.readline():
                if line.startswith(b"data: "):
                    self.models.append(json.loads(line[6:])["model"])
        except OSError:
            pass
        self.ended = True


def test_a_model_switch_keeps_the_web_server_and_its_page_clients(teaching):
    """Every reload, and so every fit from the panel, restarted the server and dropped every client (9 of 9)."""
    web = teaching.service.outputs.web
    stream = EventStream(teaching.port)
    stream.start()
    teaching.show(read_image(SAMPLES_DIR / "digits-1-7.jpg"))
    assert wait_until(lambda: "digits" in stream.models, STEP_S), stream.models
    teaching.write_config("fashion")
    teaching.service.events.put(RELOAD)
    assert wait_until(lambda: teaching.status().get("model") == "fashion", STEP_S)
    teaching.show(TROUSER)
    assert wait_until(lambda: "fashion" in stream.models, STEP_S), stream.models
    assert not stream.ended and teaching.service.outputs.web is web
    assert teaching.status()["model"] == "fashion", "the page's status follows the new model"
