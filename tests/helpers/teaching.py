"""The service with [web] on, its teach panel, a bundled model and a camera (a picamera2 stand-in) the test points at
things, as a user points the camera at one thing, then another."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from piclassify.device.config import load_config
from piclassify.device.core.loop import STOP
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sources import open_source
from piclassify.device.service import runner
from piclassify.device.service.notify import Notifier
from piclassify.shared.files.imagefile import read_image

from tests.conftest import wait_until
from tests.helpers import picamera2_standin
from tests.helpers.browser import free_port

PETS = [read_image(path) for path in sorted(SAMPLES_DIR.glob("catsdogs-*.jpg"))]
FIT_S = 300  # seconds a fit may take: about 15 on x86, several times that on an emulated Pi (scripts/test-arm64)
STEP_S = 60  # a few frames through the backbone, a reload


class TeachingService:
    """The service with [web] on, ``model`` (the bundled digits model) and a camera the test points at things;
    ``config`` adds lines to the config's top level."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str = "digits",
                 config: str = "") -> None:
        self.camera = picamera2_standin.module(PETS[0])
        monkeypatch.setitem(sys.modules, "picamera2", self.camera)
        monkeypatch.setattr(runner, "signals_to_events", lambda events: contextlib.nullcontext())
        self.port = free_port("127.0.0.1")
        self.models = tmp_path / "models"
        self.config = tmp_path / "piclassify.toml"
        self.write_config(model, config)
        self.service = runner.Service(self.config, load_config(self.config), notifier=Notifier(None),
                                      source_factory=lambda spec, size: open_source(spec, size),
                                      pipeline_factory=lambda model, threads: Pipeline.load(model))
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()
        assert wait_until(lambda: self.service.loop is not None and self.service.loop.counts.classified >= 2, STEP_S)

    def write_config(self, model: str, extra: str = "") -> None:
        tmp_path = self.config.parent
        self.config.write_text(f'model = "{model}"\nsource = "picamera2"\ninterval_s = 0.05\n{extra}\n'
                               f'[results]\npath = "{tmp_path / "results.jsonl"}"\n'
                               f'[web]\nenabled = true\nport = {self.port}\n'
                               f'[teach]\nexamples = "{tmp_path / "examples"}"\nmodels = "{self.models}"\n')

    def show(self, photo: np.ndarray) -> None:
        """Point the camera at ``photo`` and wait until the loop has classified a frame of it."""
        self.camera.Picamera2.scene = photo
        seen = self.service.loop.counts.classified
        assert wait_until(lambda: self.service.loop.counts.classified >= seen + 2, STEP_S)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def call(self, path: str, data: Optional[bytes] = None, origin: Optional[str] = None) -> tuple[int, Any]:
        headers = {"Origin": origin or self.url("")} if data is not None else {}
        request = urllib.request.Request(self.url(path), data=data, headers=headers,
                                         method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=STEP_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()

    def status(self) -> dict:
        """The web view's status; {} if it cannot be had."""
        try:
            return self.call("/api/status")[1]
        except OSError:
            return {}

    def stop(self) -> None:
        self.service.events.put(STOP)
        self.thread.join(20)
