"""The service's main loop: classify frames for months without a person watching.

Everything that reaches the loop from outside (SIGTERM, SIGINT, SIGHUP, button presses) arrives as
a word on one ``SimpleQueue``, the one queue safe to fill from a signal handler, so the loop acts
on it between frames: a stop finishes the current frame, a reload never interrupts a classification.
A camera fault is never fatal: the loop closes the camera, waits (0.5 s doubling to 30 s) and
reopens it, with STATUS saying so.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Union

from piclassify.device.errors import CameraError
from piclassify.device.service.config import ServiceConfig, check_against_model, load_config
from piclassify.device.service.feedback import Feedback, TriggerButton
from piclassify.device.service.frames_store import FrameStore, FrameStoreError
from piclassify.device.service.logs import configure_logging
from piclassify.device.service.notify import Notifier
from piclassify.device.service.results import ResultLog, ResultLogError, result_record
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.runtime import NoRuntimeError

if TYPE_CHECKING:
    from piclassify.device.frames import Frame
    from piclassify.device.pipeline import Pipeline, Result
    from piclassify.device.sources import FrameSource

log = logging.getLogger(__name__)

SourceFactory = Callable[[str, "tuple[int, int]"], "FrameSource"]
PipelineFactory = Callable[[str, Optional[int]], "Pipeline"]

STOP, RELOAD, CAPTURE = "stop", "reload", "capture"
STATUS_EVERY_S = 2.0
# While no camera has delivered a first frame, each heartbeat extends systemd's start timeout by
# this much, so a camera that is slow to appear at boot does not get the service killed.
EXTEND_START_S = 30.0


class Backoff:
    """Delays before reopening a lost camera: ``initial``, doubling each failure, never above ``cap``."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0) -> None:
        self.initial = initial
        self.cap = cap
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class Outputs:
    """Where results go: the result log, saved frames, LEDs and buzzer, and the button's callbacks."""

    def __init__(self, config: ServiceConfig, positive_label: Optional[str], events: queue.SimpleQueue) -> None:
        self.results = ResultLog(config.results.path, config.results.max_bytes, config.results.keep)
        self.frames: Optional[FrameStore] = None
        self.feedback: Optional[Feedback] = None
        self.button: Optional[TriggerButton] = None
        try:
            self.frames = FrameStore(config.frames) if config.frames.save != "none" else None
            self.feedback = Feedback(config.feedback, positive_label)
            if config.button.pin is not None:
                on_hold = (lambda: events.put(RELOAD)) if config.button.on_hold == "reload" else None
                self.button = TriggerButton(config.button, lambda: events.put(CAPTURE), on_hold)
        except PiclassifyError:
            self.close()
            raise

    def close(self) -> None:
        for part in (self.button, self.feedback):
            if part is not None:
                part.close()
        self.results.close()


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
        self.pipeline: Optional[Pipeline] = None
        self.outputs: Optional[Outputs] = None
        self.source: Optional[FrameSource] = None
        self.ready = False
        self._stopping = False
        self._reload_wanted = False
        self._captures_wanted = 0
        self._retry_at: Optional[float] = None
        self._camera_fault = ""
        self._next_due = 0.0
        self._last: Optional[Result] = None
        self._results_since_status = 0
        self._status_at = time.monotonic()
        self._output_fault = ""
        interval = self.notifier.watchdog_interval
        self._heartbeat_s = min(STATUS_EVERY_S, interval) if interval else STATUS_EVERY_S

    def run(self) -> int:
        with self._signals():
            try:
                self.pipeline = self._load_pipeline(self.config)
                self.outputs = self._open_outputs(self.config, self.pipeline)
                log.info("started: model=%s source=%s mode=%s results=%s", self.pipeline.manifest.name,
                         self.config.source, self.config.mode, self.config.results.path)
                self._loop()
            finally:
                self._shut_down()
        return 0

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._take_events(block_s=0)
            if self._stopping:
                return
            if self._reload_wanted:
                self._reload()
            elif self.source is None:
                self._reconnect()
            elif self.config.mode == "continuous":
                self._continuous_step()
            else:
                self._trigger_step()
            self._heartbeat()

    def _continuous_step(self) -> None:
        wait = self._next_due - time.monotonic()
        if wait > 0:
            self._take_events(block_s=min(wait, self._heartbeat_s))
            return
        self._next_due = time.monotonic() + self.config.interval_s
        frame = self._read_frame()
        if frame is not None:
            self._report(frame)

    def _trigger_step(self) -> None:
        if self._captures_wanted == 0:
            self._take_events(block_s=self._heartbeat_s)
            return
        self._captures_wanted -= 1
        frame = self._read_frame()
        if frame is not None:
            self._report(frame)

    def _take_events(self, block_s: float) -> None:
        """Act on every queued signal and press, first waiting up to ``block_s`` for one to arrive."""
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
        elif event == RELOAD:
            self._reload_wanted = True
        elif event == CAPTURE and self.config.mode == "trigger":
            self._captures_wanted += 1

    # -- the camera ---------------------------------------------------------------------------

    def _reconnect(self) -> None:
        """Open the source and prove it with a frame; READY=1 goes out with the first one."""
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            self._take_events(block_s=min(self._retry_at - time.monotonic(), self._heartbeat_s))
            return
        try:
            self.source = self.source_factory(self.config.source, self.config.size)
            log.info("opened source %s", self.source.name)
            frame = next(self.source)
        except CameraError as error:
            self._camera_lost(error)
            return
        except StopIteration:
            self._source_ended()
            return
        self._camera_back()
        if self.config.mode == "continuous":
            self._next_due = time.monotonic() + self.config.interval_s
            self._report(frame)

    def _read_frame(self) -> Optional[Frame]:
        assert self.source is not None
        try:
            frame = next(self.source)
        except CameraError as error:
            self._camera_lost(error)
            return None
        except StopIteration:
            self._source_ended()
            return None
        self.backoff.reset()
        return frame

    def _camera_lost(self, error: Exception) -> None:
        delay = self.backoff.next_delay()
        self._retry_at = time.monotonic() + delay
        self._camera_fault = str(error)
        self._captures_wanted = 0  # a press while the camera was gone is not answered minutes later
        log.warning("camera lost: %s; retrying in %gs", error, delay)
        self._close_source()
        self._send_status()

    def _camera_back(self) -> None:
        if self._camera_fault:
            log.info("camera back: %s", self.source.name if self.source else self.config.source)
        self._camera_fault = ""
        self._retry_at = None
        self.backoff.reset()
        if not self.ready:
            self.ready = True
            self.notifier.ready(self._status_text())

    def _source_ended(self) -> None:
        """Image files and video files run out; a finished job is a clean exit, not a fault."""
        log.info("source %s has no more frames; stopping", self.source.name if self.source else self.config.source)
        self._stopping = True

    def _close_source(self) -> None:
        if self.source is not None:
            source, self.source = self.source, None
            source.close()
            log.info("closed source %s", source.name)

    # -- results ------------------------------------------------------------------------------

    def _report(self, frame: Frame) -> None:
        assert self.pipeline is not None and self.outputs is not None and self.source is not None
        result = self.pipeline.classify(frame)
        self._last = result
        self._results_since_status += 1
        level = logging.INFO if self.config.mode == "trigger" else logging.DEBUG
        log.log(level, "result: label=%s score=%.3f latency_ms=%.1f frame=%d",
                result.label, result.score, result.latency_ms, frame.index)
        if self.outputs.feedback is not None:
            self.outputs.feedback.show(result)
        try:
            self.outputs.results.append(result_record(frame, result, self.pipeline.manifest.name, self.source.name))
            if self.outputs.frames is not None:
                self.outputs.frames.save(frame, result)
        except (ResultLogError, FrameStoreError) as error:
            self._output_failed(str(error))
            return
        self._output_failed("")

    def _output_failed(self, fault: str) -> None:
        """Log a full disk once when it starts and once when it ends, not on every frame."""
        if fault and fault != self._output_fault:
            log.error("%s", fault)
        elif not fault and self._output_fault:
            log.info("writing results again")
        self._output_fault = fault

    # -- systemd ------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        if time.monotonic() - self._status_at >= self._heartbeat_s:
            self._send_status()

    def _send_status(self) -> None:
        status = self._status_text()
        self._results_since_status = 0
        self._status_at = time.monotonic()
        self.notifier.heartbeat(status, extend_start_s=None if self.ready else EXTEND_START_S)

    def _status_text(self) -> str:
        if self._camera_fault:
            left = max(0.0, (self._retry_at or 0.0) - time.monotonic())
            return f"camera lost ({self._camera_fault}), retrying in {left:.1f}s"
        fps = self._results_since_status / max(time.monotonic() - self._status_at, 1e-3)
        last = f"{self._last.label} ({self._last.score:.2f})" if self._last else "none yet"
        waiting = ", waiting for button" if self.config.mode == "trigger" else ""
        return f"{fps:.1f} fps, last: {last}{waiting}"

    # -- reload -------------------------------------------------------------------------------

    def _reload(self) -> None:
        """Re-read the config and the model; keep the camera open unless its settings changed."""
        self._reload_wanted = False
        if self.ready:
            self.notifier.reloading()
        log.info("reloading %s", self.config_path)
        try:
            config = load_config(self.config_path)
            pipeline = self._load_pipeline(config)
        except PiclassifyError as error:
            log.error("reload failed, keeping the running configuration: %s", error)
        else:
            self._switch_to(config, pipeline)
        if self.ready:
            self.notifier.ready(self._status_text())

    def _switch_to(self, config: ServiceConfig, pipeline: Pipeline) -> None:
        assert self.outputs is not None
        self.outputs.close()
        try:
            self.outputs = self._open_outputs(config, pipeline)
        except PiclassifyError as error:
            log.error("reload failed, keeping the running configuration: %s", error)
            self.outputs = self._open_outputs(self.config, self.pipeline)
            return
        if (config.source, config.size) != (self.config.source, self.config.size):
            self._close_source()
            self._retry_at = None
            self.backoff.reset()
        self.config, self.pipeline = config, pipeline
        self._next_due = 0.0
        logging.getLogger().setLevel(config.log_level.upper())
        log.info("reloaded: model=%s source=%s mode=%s", pipeline.manifest.name, config.source, config.mode)

    def _load_pipeline(self, config: ServiceConfig) -> Pipeline:
        pipeline = self.pipeline_factory(config.model, config.threads or None)
        manifest = pipeline.manifest
        check_against_model(config, manifest.task, tuple(manifest.labels), manifest.name, self.config_path)
        return pipeline

    def _open_outputs(self, config: ServiceConfig, pipeline: Pipeline) -> Outputs:
        labels = tuple(pipeline.manifest.labels)
        positive = labels[1] if pipeline.manifest.task == "binary" else None
        return Outputs(config, positive, self.events)

    # -- signals and shutdown -----------------------------------------------------------------

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT stop after the current frame; SIGHUP reloads. Previous handlers come back after."""
        wanted = {signal.SIGTERM: STOP, signal.SIGINT: STOP, signal.SIGHUP: RELOAD}
        previous = {number: signal.signal(number, lambda signum, _frame: self.events.put(wanted[signum]))
                    for number in wanted}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _shut_down(self) -> None:
        self.notifier.stopping()
        try:
            self._close_source()
        finally:
            if self.outputs is not None:
                self.outputs.close()
            self.notifier.close()
        log.info("stopped")


def main(config_path: Union[str, Path], source_factory: Optional[SourceFactory] = None,
         pipeline_factory: Optional[PipelineFactory] = None) -> int:
    """``piclassify service``: 0 after a stop signal or when a file source runs out; 2 on a user error."""
    configure_logging()
    try:
        config = load_config(config_path)
        configure_logging(config.log_level)
        if source_factory is None:
            from piclassify.device.sources import open_source as source_factory
        if pipeline_factory is None:
            from piclassify.device.pipeline import Pipeline

            pipeline_factory = Pipeline.load
        service = Service(config_path, config, source_factory=source_factory, pipeline_factory=pipeline_factory,
                          notifier=Notifier.from_environ())
        return service.run()
    except (PiclassifyError, NoRuntimeError) as error:
        log.error("%s", error)
        return 2
