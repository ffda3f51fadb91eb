"""The device's one loop: source -> pipeline -> one result -> sinks, for `piclassify run` and the service; with
watched regions, source -> each region (``core/regions``: crop, changed?, pipeline, steady state) -> sinks.

Everything that reaches the loop from outside (SIGTERM, SIGHUP, a button, later the web view and
MQTT) arrives as a word on one ``SimpleQueue``, the one queue safe to fill from a signal handler,
so the loop acts on it between frames: a stop finishes the current frame, a reload never
interrupts a classification. Pacing, trigger mode, ``min_score`` and "only on change" are decided
here, once. A lost camera is never fatal: the loop closes it, waits (0.5 s doubling to 30 s) and
reopens it. A frame that cannot be read or classified (a corrupt file in a folder) is logged and
skipped.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.loop_state import Listener, LoopCounts, Nobody
from piclassify.device.core.rate import Rate
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.core.sources.base import NothingYet
from piclassify.device.errors import CameraError
from piclassify.shared.errors import ImageError
from piclassify.shared.framing.framed import FramingSteps

if TYPE_CHECKING:
    from piclassify.device.core.frames import Frame
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.regions import Regions
    from piclassify.device.core.sources import FrameSource

log = logging.getLogger(__name__)

STOP, RELOAD, CAPTURE = "stop", "reload", "capture"
MODES = ("continuous", "trigger")
STATUS_EVERY_S = 2.0
WATCH_POLL_S = 1.0  # a watched folder with nothing new is listed again this often
# While no camera has delivered a first frame, each heartbeat extends systemd's start timeout by
# this much, so a camera that is slow to appear at boot does not get the service killed.
EXTEND_START_S = 30.0


@dataclass(frozen=True)
class LoopSettings:
    """What the loop decides, once, for every output."""

    mode: str = "continuous"  # "continuous": frames as they come; "trigger": one frame per CAPTURE event
    interval_s: float = 0.0  # continuous: seconds between classifications (0: every frame)
    min_score: float = 0.0  # results scoring below this are "uncertain": not shown, not on LEDs
    on_change: bool = False  # hand a result to the outputs only when its label differs from the last one
    count: Optional[int] = None  # stop after this many shown results


SourceOpener = Callable[[], "FrameSource"]


class FrameLoop:
    """Classify frames until a stop, the end of a file source, or ``settings.count`` shown results."""

    def __init__(self, open_source: SourceOpener, pipeline: Pipeline, sinks: Sinks, settings: LoopSettings, *,
                 listener: Optional[Listener] = None, backoff: Optional[Backoff] = None,
                 on_reload: Optional[Callable[[], None]] = None,
                 events: Optional[queue.SimpleQueue[str]] = None, regions: Optional[Regions] = None) -> None:
        self.open_source = open_source
        self.pipeline = pipeline
        self.regions = regions  # watched regions of the frame, each with its own steady answers; None: the whole frame
        self.sinks = sinks
        self.settings = settings
        self.listener: Listener = listener or Nobody()
        self.backoff = backoff or Backoff()
        self.on_reload = on_reload
        self.events: queue.SimpleQueue[str] = events if events is not None else queue.SimpleQueue()
        self.source: Optional[FrameSource] = None
        self.ready = False
        self.counts = LoopCounts()
        self._stopping = False
        self._reload_wanted = False
        self._captures_wanted = 0  # at most 1: a flood of triggers is one capture, not minutes of back-to-back ones
        self._flood_noted = False
        self._retry_at: Optional[float] = None
        self._camera_fault = ""
        self._waiting_on = ""  # a watched folder whose every image is classified, until a new one comes
        self._next_due = 0.0
        self._last_label: Optional[str] = None
        self._rate = Rate()
        self._status_at = time.monotonic()
        interval = self.listener.watchdog_interval
        self._heartbeat_s = min(STATUS_EVERY_S, interval) if interval else STATUS_EVERY_S

    def run(self) -> None:
        """Loop until stopped; the source is closed on every way out."""
        try:
            while not self._stopping:
                self._step()
        finally:
            self.listener.stopping()
            self.close_source()

    def stop(self) -> None:
        """Ask the loop to stop after the current frame (safe from a signal handler or another thread)."""
        self.events.put(STOP)

    def switch(self, pipeline: Pipeline, sinks: Sinks, settings: LoopSettings,
               open_source: Optional[SourceOpener] = None, regions: Optional[Regions] = None) -> None:
        """Carry on with another model, outputs and regions; a new ``open_source`` closes the camera and reopens it."""
        self.pipeline, self.sinks, self.settings, self.regions = pipeline, sinks, settings, regions
        if open_source is not None:
            self.open_source = open_source
            self.close_source()
            self._retry_at = None
            self.backoff.reset()
        self._next_due = 0.0

    # -- one step -------------------------------------------------------------------------------

    def _step(self) -> None:
        self._take_events(block_s=0)
        if self._stopping:
            return
        if self._reload_wanted:
            self._reload()
        elif self.source is None:
            self._reconnect()
        elif self.settings.mode == "continuous":
            self._continuous_step()
        else:
            self._trigger_step()
        self._heartbeat()

    def _continuous_step(self) -> None:
        wait = self._next_due - time.monotonic()
        if wait > 0:
            self._take_events(block_s=min(wait, self._heartbeat_s))
            return
        self._next_due = time.monotonic() + self.settings.interval_s
        frame = self._read_frame()
        if frame is not None:
            self._classify(frame)

    def _trigger_step(self) -> None:
        if self._captures_wanted == 0:
            self._take_events(block_s=self._heartbeat_s)
            return
        self._captures_wanted -= 1
        frame = self._read_frame()
        if frame is not None:
            self._classify(frame)

    def _take_events(self, block_s: float) -> None:
        """Act on every queued event, first waiting up to ``block_s`` for one to arrive."""
        try:
            event = self.events.get(timeout=block_s) if block_s > 0 else self.events.get_nowait()
            while True:
                self._note(event)
                event = self.events.get_nowait()
        except queue.Empty:
            return

    def _note(self, event: str) -> None:
        if event == STOP:
            self._stopping = True
        elif event == RELOAD and self.on_reload is not None:
            self._reload_wanted = True
        elif event == CAPTURE and self.settings.mode == "trigger":
            if self._captures_wanted and not self._flood_noted:  # a held-down relay, a retained MQTT storm
                log.info("trigger: presses that come while a capture is pending are merged into it")
                self._flood_noted = True
            self._captures_wanted = 1

    def _reload(self) -> None:
        self._reload_wanted = False
        if self.ready:
            self.listener.reloading()
        assert self.on_reload is not None
        self.on_reload()
        if self.ready:
            self.listener.ready(self.status_text())

    # -- the source -----------------------------------------------------------------------------

    def _reconnect(self) -> None:
        """Open the source and prove it with a frame; READY goes out with the first one."""
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            self._take_events(block_s=min(self._retry_at - time.monotonic(), self._heartbeat_s))
            return
        try:
            self.source = self.open_source()
        except CameraError as error:
            self._camera_lost(error)
            return
        log.info("opened source %s", self.source.name)
        frame = self._read_frame()
        if frame is not None and self.settings.mode == "continuous":
            self._next_due = time.monotonic() + self.settings.interval_s
            self._classify(frame)

    def _read_frame(self) -> Optional[Frame]:
        assert self.source is not None
        try:
            frame = next(self.source)
        except CameraError as error:
            self._camera_lost(error)
            return None
        except StopIteration:
            log.info("source %s has no more frames; stopping", self.source.name)
            self._stopping = True
            return None
        except NothingYet:  # a watched folder with no new image: look again shortly, answering events meanwhile
            self._waiting_on = self.source.name
            self._take_events(block_s=WATCH_POLL_S)
            return None
        except ImageError as error:
            self._skip(error)
            return None
        self.counts.frame_at = time.monotonic()
        self._waiting_on = ""
        if not self.ready or self._camera_fault:
            self._camera_back()
        return frame

    def _camera_lost(self, error: Exception) -> None:
        delay = self.backoff.next_delay()
        self._retry_at = time.monotonic() + delay
        self._camera_fault = str(error)
        self.counts.camera_errors += 1
        self._captures_wanted = 0  # a press while the camera was gone is not answered minutes later
        log.warning("camera lost: %s; retrying in %gs", error, delay)
        self.close_source()
        self._send_status()

    def _camera_back(self) -> None:
        """The first frame, or the first since the camera was lost."""
        if self._camera_fault:
            log.info("camera back: %s", self.source.name if self.source else "")
        self._camera_fault = ""
        self._retry_at = None
        self.backoff.reset()
        if not self.ready:
            self.ready = True
            self.listener.ready(self.status_text())

    def close_source(self) -> None:
        if self.source is not None:
            source, self.source = self.source, None
            source.close()
            log.info("closed source %s", source.name)

    # -- results --------------------------------------------------------------------------------

    def _skip(self, error: Exception) -> None:
        """A frame that cannot be read or classified (a corrupt file) is named once and passed over."""
        self.counts.skipped += 1
        log.warning("skipped: %s", error)

    def _classify(self, frame: Frame) -> None:
        """The whole frame's answer, or each watched region's (those classified now), to every sink."""
        try:
            deliveries = ([self._whole(frame)] if self.regions is None else
                          self.regions.look(frame, self._framing_steps))
        except ImageError as error:
            self._skip(error)
            return
        for delivery in deliveries:
            self._deliver(delivery)

    def _whole(self, frame: Frame) -> Delivery:
        steps = self._framing_steps()
        result = self.pipeline.classify(frame, steps) if steps is not None else self.pipeline.classify(frame)
        changed = result.label != self._last_label
        self._last_label = result.label
        uncertain = result.score is not None and result.score < self.settings.min_score
        model_input = steps.images.get("model-input") if steps is not None else None
        return Delivery(result, frame, uncertain, changed, model_input)

    def _deliver(self, delivery: Delivery) -> None:
        result = delivery.result
        self.counts.classified += 1
        self._rate(self.counts.classified)
        if delivery.steady:
            self.counts.last = result
        log.log(logging.INFO if self.settings.mode == "trigger" else logging.DEBUG,
                "result: label=%s score=%s latency_ms=%.1f frame=%d%s", result.label,
                "none" if result.score is None else f"{result.score:.3f}", result.latency_ms, result.frame,
                "" if result.region is None else f" region={result.region} steady={delivery.steady}")
        if self.settings.on_change and not delivery.changed:
            return
        if result.label is None:
            self.counts.nothing += 1
        self.sinks.handle(delivery)
        if delivery.steady and not delivery.uncertain and result.label is not None:
            self.counts.shown += 1
            if self.settings.count is not None and self.counts.shown >= self.settings.count:
                self._stopping = True

    def _framing_steps(self) -> Optional[FramingSteps]:
        """Somewhere to keep the framed model input, only while a sink shows it (the web view, watched)."""
        if not self.sinks.wants_model_input():
            return None
        return FramingSteps()

    # -- status ---------------------------------------------------------------------------------

    def frames_flowing(self) -> bool:
        """Frames arrive as they should: within the watchdog's timeout (30 s without one) or three
        intervals, whichever is longer; in trigger mode, the loop is alive and its camera is not lost."""
        if not self.ready or self._camera_fault or self._stopping:
            return False
        interval = self.listener.watchdog_interval
        timeout = 2 * interval if interval else 30.0
        now = time.monotonic()
        if self.settings.mode == "trigger":
            return now - self._status_at <= max(timeout, 3 * self._heartbeat_s)
        frame_at = self.counts.frame_at
        return frame_at is not None and now - frame_at <= max(timeout, 3 * self.settings.interval_s)

    def _heartbeat(self) -> None:
        if time.monotonic() - self._status_at >= self._heartbeat_s:
            self._send_status()

    def _send_status(self) -> None:
        status = self.status_text()
        self._status_at = time.monotonic()
        self.listener.heartbeat(status, extend_start_s=None if self.ready else EXTEND_START_S)

    def fps(self) -> float:
        """Frames classified per second over about the last two seconds (every frame: nothing in view, uncertain and
        unchanged ones too); the average since the start until two samples are known. STATUS and the web view show
        this one measure."""
        rate = self._rate(self.counts.classified)
        if rate is None:
            rate = self.counts.classified / max(time.monotonic() - self.counts.started, 1e-3)
        return rate

    def status_text(self, with_fps: bool = True) -> str:
        """One line for systemd's STATUS: fps (``fps``; the web view shows it apart), the last answer, and what is
        wrong, if anything."""
        if self._camera_fault:
            left = max(0.0, (self._retry_at or 0.0) - time.monotonic())
            return f"camera lost ({self._camera_fault}), retrying in {left:.1f}s"
        last, result = "none yet", self.counts.last
        if result is not None:
            last = "nothing in view" if result.label is None else f"{result.label} ({result.score:.2f})"
        parts = [f"{self.fps():.1f} fps"] if with_fps else []
        parts.append(f"last: {last}")
        if self.settings.mode == "trigger":
            parts.append("waiting for button")
        if self._waiting_on:
            parts.append(f"every image classified, waiting for new ones in {self._waiting_on}")
        if self.counts.nothing:
            parts.append(f"{self.counts.nothing} with nothing in view")
        if self.counts.skipped:
            parts.append(f"{self.counts.skipped} frames skipped")
        parts += [f"failing: {fault}" for fault in self.sinks.faults()]
        return ", ".join(parts)


@contextmanager
def signals_to_events(events: queue.SimpleQueue[str]) -> Iterator[None]:
    """SIGTERM and SIGINT stop the loop after the current frame; SIGHUP reloads. Old handlers come back after."""
    wanted = {signal.SIGTERM: STOP, signal.SIGINT: STOP, signal.SIGHUP: RELOAD}
    previous = {number: signal.signal(number, lambda signum, _frame: events.put(wanted[signal.Signals(signum)]))
                for number in wanted}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
