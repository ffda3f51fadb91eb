"""``piclassify service``: the frame loop with the config's outputs, under systemd, for months.

The loop itself (pacing, trigger mode, camera faults, events) is ``piclassify.device.core.loop``, shared
with ``piclassify run``. This module adds what a headless service needs around it: the config file,
the outputs it names (results log, saved frames, LEDs and buzzer, the button), systemd's notify
socket, signals, and SIGHUP reloads that keep the running setup when the new one is broken.
"""

from __future__ import annotations

import logging
import queue
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.loop import CAPTURE, RELOAD, FrameLoop, signals_to_events
from piclassify.device.config import ServiceConfig, check_against_model, load_config
from piclassify.device.sinks.gpio import Feedback, TriggerButton
from piclassify.device.sinks.frames_store import FrameStore
from piclassify.device.service.logs import configure_logging
from piclassify.device.service.notify import Notifier
from piclassify.device.sinks.results_log import ResultLog
from piclassify.device.core.sink import Sink, Sinks
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.inference.runtime import NoRuntimeError

if TYPE_CHECKING:
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.sources import FrameSource
    from piclassify.device.sinks.web.sink import WebSink
    from piclassify.device.teach.teacher import Teacher

log = logging.getLogger(__name__)

SourceFactory = Callable[[str, "tuple[int, int]"], "FrameSource"]
PipelineFactory = Callable[[str, Optional[int]], "Pipeline"]


@dataclass
class Outputs:
    """The sinks a config asks for, the button that feeds the loop's events, and the teach panel's class buttons."""

    sinks: Sinks
    buttons: list[TriggerButton]

    @classmethod
    def open(cls, config: ServiceConfig, pipeline: Pipeline, events: queue.SimpleQueue,
             classified: Callable[[], int] = lambda: 0,
             loop: Callable[[], Optional[FrameLoop]] = lambda: None, teacher: Optional[Teacher] = None) -> "Outputs":
        """Open each output; if one fails, those already opened are closed before the error goes up.

        ``classified`` counts the loop's classified frames (MQTT publishes frames per second from it);
        ``loop`` is the running loop, once there is one (the web view shows its counters and status);
        ``teacher`` is the web view's teach panel.
        """
        manifest = pipeline.manifest
        positive = manifest.labels[1] if manifest.task == "binary" else None
        with ExitStack() as opened:
            sinks: list[Sink] = [opened.enter_context(closing(
                ResultLog(config.results.path, config.results.max_bytes, config.results.keep,
                          config.results.nothing)))]
            if config.frames.save != "none":
                sinks.append(FrameStore(config.frames))
            sinks.append(opened.enter_context(closing(Feedback(config.feedback, positive))))
            if config.mqtt.host is not None:
                from piclassify.device.sinks.mqtt.sink import MqttSink  # paho-mqtt is optional: piclassify[mqtt]

                sinks.append(opened.enter_context(closing(MqttSink(
                    config.mqtt, model=manifest, events=events, trigger=config.mode == "trigger",
                    classified=classified))))
            if config.web.enabled:
                sinks.append(opened.enter_context(closing(_open_web_sink(config, pipeline, events, loop, teacher))))
            buttons = []
            if config.button.pin is not None:
                on_hold = (lambda: events.put(RELOAD)) if config.button.on_hold == "reload" else None
                buttons.append(opened.enter_context(closing(
                    TriggerButton(config.button, lambda: events.put(CAPTURE), on_hold))))
            if teacher is not None:
                sinks.append(teacher)  # keeps the newest frame for the class buttons
                for name, pin in config.teach.buttons.items():  # a press keeps the newest frame as an example
                    buttons.append(opened.enter_context(closing(TriggerButton(
                        replace(config.button, pin=pin), partial(teacher.capture_newest, name), None,
                        f"teach.buttons.{name}"))))
            opened.pop_all()
        return cls(Sinks(sinks), buttons)

    def close(self) -> None:
        for button in self.buttons:
            button.close()
        self.sinks.close()


def _open_web_sink(config: ServiceConfig, pipeline: Pipeline, events: queue.SimpleQueue,
                   loop: Callable[[], Optional[FrameLoop]], teacher: Optional[Teacher]) -> WebSink:
    """The service's web view, as its ``[web]`` section says; ``WebError`` names what is wrong."""
    from piclassify.device.sinks.web.auth import read_token
    from piclassify.device.sinks.web.sink import WebSink
    from piclassify.device.sinks.web.state import WebView

    web = config.web
    token = read_token(web.token_file) if web.token_file is not None else None
    view = WebView.of(pipeline, config.source, config.mode, config.results.path, lambda: events.put(CAPTURE), loop,
                      teacher)
    return WebSink(view, web.host, web.port, token, web.max_streams, web.stream_fps)


class Service:
    """One run of ``piclassify service``; ``run`` returns the exit code."""

    def __init__(self, config_path: Union[str, Path], config: ServiceConfig, *,
                 source_factory: SourceFactory, pipeline_factory: PipelineFactory,
                 notifier: Optional[Notifier] = None, backoff: Optional[Backoff] = None) -> None:
        self.config_path = str(config_path)
        self.config = config
        self.source_factory = source_factory
        self.pipeline_factory = pipeline_factory
        self.notifier = notifier or Notifier(None)
        self.backoff = backoff or Backoff()
        self.events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.loop: Optional[FrameLoop] = None
        self.outputs: Optional[Outputs] = None
        self.taught_model: Optional[str] = None  # a model the teach panel made; until a restart, it replaces config's
        self.teacher = self._teacher(config)

    def run(self) -> int:
        with signals_to_events(self.events):
            try:
                pipeline = self._load_pipeline(self.config)
                self.outputs = Outputs.open(self.config, pipeline, self.events, self._classified, self._loop,
                                            self.teacher)
                self.loop = FrameLoop(self._opener(self.config), pipeline, self.outputs.sinks,
                                      self.config.loop_settings(), listener=self.notifier, backoff=self.backoff,
                                      on_reload=self._reload, events=self.events)
                log.info("started: model=%s source=%s mode=%s results=%s", pipeline.manifest.name,
                         self.config.source, self.config.mode, self.config.results.path)
                self.loop.run()
            except BaseException:
                if self.loop is None:
                    self.notifier.stopping()
                raise
            finally:
                if self.outputs is not None:
                    self.outputs.close()
                self.notifier.close()
        log.info("stopped")
        return 0

    def _classified(self) -> int:
        return self.loop.counts.classified if self.loop is not None else 0

    def _loop(self) -> Optional[FrameLoop]:
        return self.loop

    def _opener(self, config: ServiceConfig) -> Callable[[], FrameSource]:
        return lambda: self.source_factory(config.source, config.size)

    def _teacher(self, config: ServiceConfig) -> Optional[Teacher]:
        """The teach panel, with the web view or class buttons: it outlives reloads (a fit may be running)."""
        if not (config.web.enabled or config.teach.buttons):
            return None
        from piclassify.device.teach.examples import ExampleStore
        from piclassify.device.teach.teacher import Teacher

        return Teacher(ExampleStore(config.teach.examples), config.teach.models, self.use_model,
                       lambda: self.taught_model or self.config.model, config.threads or None)

    def use_model(self, path: Path) -> None:
        """Switch to a model the teach panel made (a reload with it in place of the config's model)."""
        self.taught_model = str(path)
        self.events.put(RELOAD)

    def _load_pipeline(self, config: ServiceConfig) -> Pipeline:
        pipeline = self.pipeline_factory(self.taught_model or config.model, config.threads or None)
        manifest = pipeline.manifest
        check_against_model(config, manifest.task, tuple(manifest.labels), manifest.name, self.config_path)
        return pipeline

    def _reload(self) -> None:
        """Re-read the config and the model; keep the camera open unless its settings changed.

        Anything wrong with the new setup (config, model, a pin) is one log line, and the running
        setup carries on.
        """
        assert self.loop is not None and self.outputs is not None
        log.info("reloading %s", self.config_path)
        try:
            config = load_config(self.config_path)
            pipeline = self._load_pipeline(config)
            self.outputs.close()
        except PiclassifyError as error:
            log.error("reload failed, keeping the running configuration: %s", error)
            return
        try:
            outputs = Outputs.open(config, pipeline, self.events, self._classified, self._loop, self.teacher)
        except PiclassifyError as error:
            log.error("reload failed, keeping the running configuration: %s", error)
            self.outputs = Outputs.open(self.config, self.loop.pipeline, self.events, self._classified, self._loop,
                                        self.teacher)
            self.loop.sinks = self.outputs.sinks
            return
        source_changed = (config.source, config.size) != (self.config.source, self.config.size)
        self.loop.switch(pipeline, outputs.sinks, config.loop_settings(),
                         self._opener(config) if source_changed else None)
        self.config, self.outputs = config, outputs
        logging.getLogger().setLevel(config.log_level.upper())
        log.info("reloaded: model=%s source=%s mode=%s", pipeline.manifest.name, config.source, config.mode)


def main(config_path: Union[str, Path], source_factory: Optional[SourceFactory] = None,
         pipeline_factory: Optional[PipelineFactory] = None) -> int:
    """``piclassify service``: 0 after a stop signal or when a file source runs out; 2 on a user error."""
    configure_logging()
    try:
        config = load_config(config_path)
        configure_logging(config.log_level)
        if source_factory is None:
            from piclassify.device.core.sources import open_source

            def source_factory(spec: str, size: tuple[int, int]) -> FrameSource:
                return open_source(spec, size, watch=True)  # a folder the service watches: new photos come later
        if pipeline_factory is None:
            from piclassify.device.core.pipeline import Pipeline

            pipeline_factory = Pipeline.load
        service = Service(config_path, config, source_factory=source_factory, pipeline_factory=pipeline_factory,
                          notifier=Notifier.from_environ())
    except (PiclassifyError, NoRuntimeError) as error:
        log.error("%s", error)
        return 2
    try:
        return service.run()
    except (PiclassifyError, NoRuntimeError) as error:
        log.error("%s", error)  # the reason first, then that the service stopped for it
        log.info("stopped")
        return 2
