"""The service with a fake camera and a fake model: in-process (``Harness``) or as a child (``fake_service_main``)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

import numpy as np

from piclassify.device.config import load_config
from piclassify.device.core.backoff import Backoff
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import STOP
from piclassify.device.errors import UnknownModelError
from piclassify.device.service.notify import Notifier
from piclassify.device.service.runner import Service, main
from piclassify.shared.contract.result import Result

from tests.conftest import make_result

# -- fakes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeManifest:
    name: str
    task: str = "multiclass"
    labels: tuple[str, ...] = ()


class FakeSource:
    """Yields frames (or raises the CameraErrors) in ``script``; ``StopIteration`` when it runs out."""

    def __init__(self, spec: str, script: Iterator[Union[None, Exception]], frame_s: float = 0.0) -> None:
        self.name = f"fake:{spec}"
        self._script = iter(script)
        self._frame_s = frame_s
        self._index = 0
        self.closed = False

    def __iter__(self) -> "FakeSource":
        return self

    def __next__(self) -> Frame:
        step = next(self._script)
        if isinstance(step, Exception):
            raise step
        time.sleep(self._frame_s)
        frame = Frame(np.zeros((8, 8, 3), np.uint8), time.time(), self._index, self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        self.closed = True


class FakePipeline:
    """Labels every frame with the model's name; ``on_classify`` lets a test act mid-run."""

    def __init__(self, model: str, on_classify: Callable[[Frame], None] = lambda frame: None,
                 classify_s: float = 0.0) -> None:
        if model == "missing":
            raise UnknownModelError(f"{model}: no such model file or bundled model")
        self.manifest = FakeManifest(model, labels=(model, "other"))
        self.model_path = Path(f"{model}.tflite")
        self._on_classify = on_classify
        self._classify_s = classify_s

    def classify(self, frame: Frame) -> Result:
        """A model called "empty" sees nothing in every second frame; others answer their own name."""
        time.sleep(self._classify_s)
        self._on_classify(frame)
        label = None if self.manifest.name == "empty" and frame.index % 2 else self.manifest.name
        return make_result(label, 0.75, labels=self.manifest.labels, model=self.manifest.name,
                           source=frame.origin, frame=frame.index, time=frame.timestamp)


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__("recording")
        self.messages: list[dict[str, str]] = []
        self.is_ready = threading.Event()

    def send(self, **fields: str) -> None:
        self.messages.append(fields)
        if "READY" in fields:
            self.is_ready.set()

    def statuses(self) -> list[str]:
        return [message["STATUS"] for message in self.messages if "STATUS" in message]

    def kinds(self) -> list[str]:
        """The state changes in order: READY, RELOADING, STOPPING."""
        return [key for message in self.messages for key in ("READY", "RELOADING", "STOPPING") if key in message]


FRAMES = None  # a script step that delivers a frame


class Harness:
    """A config in tmp_path, scripted source opens (a list of steps, or an Exception the open raises).

    ``results`` adds lines to the config's [results] section, which always points into tmp_path.
    """

    def __init__(self, tmp_path: Path, opens: list, config: str = "", results: str = "") -> None:
        self.config_path = tmp_path / "piclassify.toml"
        self.results_path = tmp_path / "results" / "results.jsonl"
        self.results_options = results
        self.write_config(config)
        self.opens = list(opens)
        self.sources: list[FakeSource] = []
        self.notifier = RecordingNotifier()
        self.on_classify: Callable[[Frame], None] = lambda frame: None
        self.service: Service

    def write_config(self, text: str) -> None:
        self.config_path.write_text(f'{text}\n[results]\npath = "{self.results_path}"\n{self.results_options}\n')

    def open_source(self, spec: str, size: tuple[int, int]) -> FakeSource:
        script = self.opens.pop(0)
        if isinstance(script, Exception):
            raise script
        source = FakeSource(spec, script)
        self.sources.append(source)
        return source

    def run(self) -> int:
        self.service = Service(self.config_path, load_config(self.config_path), source_factory=self.open_source,
                               pipeline_factory=lambda model, threads: FakePipeline(model, self.on_classify),
                               notifier=self.notifier, backoff=Backoff(0.01, 0.04))
        return self.service.run()

    def run_while(self, act: Callable[[], None]) -> int:
        """Run the service while ``act`` (a user at its buttons) happens in another thread once it is ready; the
        service is stopped when ``act`` ends."""
        def acting() -> None:
            try:
                assert self.notifier.is_ready.wait(5)
                act()
            finally:
                self.service.events.put(STOP)

        actor = threading.Thread(target=acting, daemon=True)
        actor.start()
        try:
            return self.run()
        finally:
            actor.join(5)

    def line_count(self) -> int:
        return self.results_path.read_bytes().count(b"\n") if self.results_path.exists() else 0

    def results(self) -> list[dict]:
        data = self.results_path.read_bytes()
        assert data.endswith(b"\n")
        return [json.loads(line) for line in data.splitlines()]


# -- in-process -------------------------------------------------------------------------------


def fake_service_main(config_path: str) -> int:
    """``piclassify service`` with a camera delivering ~50 frames/s forever and a 30 ms model."""
    return main(config_path,
                source_factory=lambda spec, size: FakeSource(spec, itertools.repeat(FRAMES), frame_s=0.02),
                pipeline_factory=lambda model, threads: FakePipeline(model, classify_s=0.03))
