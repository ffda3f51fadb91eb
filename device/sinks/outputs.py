"""Every output of the loop, opened in one place from one config: for ``piclassify run`` and the service alike.

The service reads its ``ServiceConfig`` from a file; ``piclassify run`` builds one from its flags (no
results log, perhaps the web view) and asks for the console too. Whatever the config names is opened
here and nowhere else: the console, the results log, saved frames, LEDs and buzzer, MQTT, the web
view, the teach panel, and the buttons that feed the loop's events (the trigger button, a button per
teach class). If one cannot be opened, those already open are closed before the error goes up.
"""

from __future__ import annotations

import queue
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from piclassify.device.config import Pin, ServiceConfig
from piclassify.device.core.loop import CAPTURE, RELOAD
from piclassify.device.core.regions import Regions, states
from piclassify.device.core.sink import Sink, Sinks
from piclassify.device.sinks.console import ConsoleSink
from piclassify.device.sinks.frames_store import FrameStore
from piclassify.device.sinks.gpio import Feedback, TriggerButton
from piclassify.device.sinks.results_log import ResultLog

if TYPE_CHECKING:
    from piclassify.device.core.loop import FrameLoop
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.sinks.web.sink import WebSink
    from piclassify.device.teach.teacher import Teacher

LoopGetter = Callable[[], "Optional[FrameLoop]"]


def no_loop() -> Optional[FrameLoop]:
    """Before the loop runs (and for outputs opened without one), there is none to ask for counters."""
    return None


@dataclass
class Outputs:
    """The sinks the loop hands results to, and the buttons that feed its events; closed together. ``web`` is the web
    view among the sinks, if any: a reload keeps it (its server and its page clients) while its settings stay."""

    sinks: Sinks
    buttons: list[TriggerButton]
    web: Optional[WebSink] = None

    @classmethod
    def open(cls, config: ServiceConfig, pipeline: Pipeline, events: queue.SimpleQueue[str],
             loop: LoopGetter = no_loop, teacher: Optional[Teacher] = None,
             console: Optional[str] = None, web: Optional[WebSink] = None,
             regions: Optional[Regions] = None) -> Outputs:
        """Open each output ``config`` asks for; ``events`` is the loop's queue (buttons, the web view and MQTT
        trigger captures on it).

        ``loop`` is the running loop once there is one (the web view and MQTT show its counters); ``teacher`` is
        the service's teach panel; ``console`` ("text" or "json") also prints each result (``piclassify run``).
        ``web`` is a running web view (a reload's): kept and shown the new model when ``config`` serves it the same
        way, else closed before another is opened. A failure closes what was opened here, never ``web``. ``regions``:
        the watched regions, each announced to Home Assistant with its states.
        """
        kept = web if web is not None and web.is_open and config.web.enabled and \
            web.settings == _web_settings(config) else None
        if web is not None and kept is None:
            web.close()
        with ExitStack() as opened:
            sinks = [sink if sink is kept else opened.enter_context(closing(sink))
                     for sink in _sinks(config, pipeline, events, loop, teacher, console, kept, regions)]
            buttons = [opened.enter_context(closing(button)) for button in _buttons(config, events, teacher)]
            opened.pop_all()
        web = next((sink for sink in sinks if isinstance(sink, _web_sink())), None) if config.web.enabled else None
        return cls(Sinks(sinks), buttons, web)

    def close(self, keep_web: bool = False) -> None:
        """Close every output; ``keep_web``: all but the web view, which a reload hands to the next ``open``."""
        for button in self.buttons:
            button.close()
        self.sinks.close(keep=self.web if keep_web else None)


def _sinks(config: ServiceConfig, pipeline: Pipeline, events: queue.SimpleQueue[str], loop: LoopGetter,
           teacher: Optional[Teacher], console: Optional[str], web: Optional[WebSink],
           regions: Optional[Regions] = None) -> Iterator[Sink]:
    """Each sink, opened only once the one before it is (so that a failure leaves the rest unopened)."""
    manifest = pipeline.manifest
    if console is not None:
        yield ConsoleSink(as_json=console == "json")
    results = config.results
    if results.path is not None:
        yield ResultLog(results.path, results.max_bytes, results.keep, results.nothing, results.raw)
    if config.frames.save != "none":
        yield FrameStore(config.frames)
    yield Feedback(config.feedback, manifest.labels[1] if manifest.task == "binary" else None)
    if config.mqtt.host is not None:
        from piclassify.device.sinks.mqtt.discovery import RegionEntity
        from piclassify.device.sinks.mqtt.sink import MqttSink  # paho-mqtt is optional: piclassify[mqtt]

        entities = [RegionEntity(watch.region.name, tuple(states(watch.pipeline)), watch.region.on)
                    for watch in (regions.watches if regions is not None else [])]
        yield MqttSink(config.mqtt, model=manifest, events=events, trigger=config.mode == "trigger",
                       classified=partial(_classified, loop), regions=entities)
    if config.web.enabled:
        yield _web_view(config, pipeline, events, loop, teacher, web)
    if teacher is not None:
        yield teacher  # keeps the newest frame for the class buttons


def _web_view(config: ServiceConfig, pipeline: Pipeline, events: queue.SimpleQueue[str], loop: LoopGetter,
              teacher: Optional[Teacher], kept: Optional[WebSink]) -> Sink:
    """The web view, as the ``[web]`` section says (``kept``, shown this model, when it serves it so already);
    ``WebError`` names what is wrong (a token file, the port)."""
    from piclassify.device.sinks.web.state import WebView  # OpenCV and the server: only with the web view

    view = WebView.of(pipeline, config.source, config.mode, config.results.path, partial(events.put, CAPTURE), loop,
                      teacher)
    if kept is not None:
        kept.show(view)
        return kept
    return _web_sink()(view, *_web_settings(config))


def _web_settings(config: ServiceConfig) -> tuple[str, int, Optional[str], int, float]:
    """How the web view serves: address, port, token (read now from its file), streams and their rate."""
    from piclassify.device.sinks.web.auth import read_token

    web = config.web
    token = read_token(web.token_file) if web.token_file is not None else None
    return web.host, web.port, token, web.max_streams, web.stream_fps


def _web_sink() -> type[WebSink]:
    """The web view's sink class, imported only when there is a web view (it brings OpenCV and the server)."""
    from piclassify.device.sinks.web.sink import WebSink

    return WebSink


def _buttons(config: ServiceConfig, events: queue.SimpleQueue[str],
             teacher: Optional[Teacher]) -> Iterator[TriggerButton]:
    """The trigger button (a long press may reload), and a button per teach class that keeps the newest frame."""
    wanted: list[tuple[Pin, Callable[[], None], Optional[Callable[[], None]], str]] = []  # pin, press, hold, key
    if config.button.pin is not None:
        reload = config.button.on_hold == "reload"
        on_hold: Optional[Callable[[], None]] = partial(events.put, RELOAD) if reload else None
        wanted.append((config.button.pin, partial(events.put, CAPTURE), on_hold, "button.pin"))
    if teacher is not None:
        wanted += [(pin, partial(teacher.capture_newest, name), None, f"teach.buttons.{name}")
                   for name, pin in config.teach.buttons.items()]
    for pin, on_press, on_hold, key in wanted:
        yield TriggerButton(replace(config.button, pin=pin), on_press, on_hold, key)


def _classified(loop: LoopGetter) -> int:
    """Frames the loop has classified (MQTT publishes frames per second from it)."""
    running = loop()
    return running.counts.classified if running is not None else 0
