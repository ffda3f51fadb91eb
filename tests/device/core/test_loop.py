"""The one loop (``device/core/loop.py``) on its own: source -> pipeline -> one result -> every sink.

What the loop promises whoever runs it (``piclassify run``, the service): every frame goes to every sink,
and a sink that raises stops neither the loop nor the sinks after it; a lost camera is closed and reopened
after a backoff, an unreadable frame skipped; min_score, on_change, count, trigger mode and events are
decided here once; the source is closed on every way out. A fake camera and a fake model stand in.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from typing import Callable, Optional

import numpy as np

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import (
    CAPTURE,
    EXTEND_START_S,
    RELOAD,
    STOP,
    FrameLoop,
    LoopSettings,
    signals_to_events,
)
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.core.sources.base import NothingYet
from piclassify.device.errors import CameraError
from piclassify.shared.contract.result import Result
from piclassify.shared.errors import ImageError
from piclassify.shared.framing.framed import FramingSteps

from conftest import make_result
from tests.helpers.service import FRAMES, FakePipeline, FakeSource


class Recorder:
    """A sink that keeps what it is handed; ``then`` acts on each delivery (a user at the loop's events)."""

    name = "recorder"

    def __init__(self, then: Callable[[Delivery], None] = lambda delivery: None) -> None:
        self.deliveries: list[Delivery] = []
        self.closed = False
        self._then = then

    def handle(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self._then(delivery)

    def close(self) -> None:
        self.closed = True

    def labels(self) -> list[Optional[str]]:
        return [delivery.result.label for delivery in self.deliveries]


class Broken:
    name = "broken"

    def handle(self, delivery: Delivery) -> None:
        raise RuntimeError("the disk is full")

    def close(self) -> None:
        pass


class Labels:
    """A model that answers the labels it is given in turn (None: nothing in view), or raises an ImageError."""

    def __init__(self, *answers: object, score: float = 0.9) -> None:
        self.answers, self.score = list(answers), score
        self.framing_steps: list[Optional[FramingSteps]] = []

    def classify(self, frame: Frame, steps: Optional[FramingSteps] = None) -> Result:
        self.framing_steps.append(steps)
        answer = self.answers.pop(0) if self.answers else "more"
        if isinstance(answer, Exception):
            raise answer
        if steps is not None:
            steps.images["model-input"] = np.zeros((2, 2), np.uint8)
        return make_result(answer, self.score, frame=frame.index)


class Listener:
    """What systemd would hear: READY, heartbeats (and how much start-up time they ask for), RELOADING, STOPPING."""

    watchdog_interval = None

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.extensions: list[Optional[float]] = []

    def ready(self, status: str) -> None:
        self.heard.append("ready")

    def heartbeat(self, status: str, extend_start_s: Optional[float] = None) -> None:
        self.extensions.append(extend_start_s)

    def reloading(self) -> None:
        self.heard.append("reloading")

    def stopping(self) -> None:
        self.heard.append("stopping")


class Opener:
    """Opens the scripted sources in turn (a list of frame steps, or an Exception the open raises)."""

    def __init__(self, *scripts: object) -> None:
        self.scripts = list(scripts)
        self.opened: list[FakeSource] = []

    def __call__(self) -> FakeSource:
        script = self.scripts.pop(0)
        if isinstance(script, Exception):
            raise script
        self.opened.append(FakeSource("camera", iter(script)))  # type: ignore[call-overload]
        return self.opened[-1]


def loop_of(opener: Callable[[], FakeSource], pipeline: object, *sinks: object, settings: LoopSettings = LoopSettings(),
            **options: object) -> FrameLoop:
    return FrameLoop(opener, pipeline, Sinks(sinks), settings, backoff=Backoff(0.01, 0.04), **options)  # type: ignore


def test_every_frame_goes_through_the_pipeline_to_every_sink_until_the_source_runs_out():
    opener, first, second, listener = Opener([FRAMES] * 3), Recorder(), Recorder(), Listener()
    loop = loop_of(opener, FakePipeline("digits"), first, second, listener=listener)
    loop.run()
    assert [d.result.frame for d in first.deliveries] == [0, 1, 2] == [d.result.frame for d in second.deliveries]
    assert all(d.frame.index == d.result.frame and not d.uncertain for d in first.deliveries)
    assert loop.counts.classified == loop.counts.shown == 3
    assert listener.heard == ["ready", "stopping"]
    assert opener.opened[0].closed, "the source is closed when it runs out"
    assert not first.closed, "the sinks are their owner's to close"


def test_a_sink_that_raises_stops_neither_the_loop_nor_the_sinks_after_it():
    after = Recorder()
    loop = loop_of(Opener([FRAMES] * 5), FakePipeline("digits"), Broken(), after)
    loop.run()
    assert len(after.deliveries) == 5 and loop.counts.classified == 5
    assert "failing: broken (RuntimeError)" in loop.status_text()


def test_a_lost_camera_is_closed_and_reopened_after_a_backoff_and_ready_waits_for_a_frame():
    opener, sink, listener = Opener(CameraError("no camera yet"), [FRAMES, CameraError("unplugged")],
                                    [FRAMES, FRAMES]), Recorder(), Listener()
    loop = loop_of(opener, FakePipeline("digits"), sink, listener=listener)
    loop.run()
    assert loop.counts.camera_errors == 2 and len(sink.deliveries) == 3
    assert all(source.closed for source in opener.opened) and len(opener.opened) == 2
    assert listener.extensions[0] == EXTEND_START_S, "no frame yet: systemd is asked for more start-up time"
    assert listener.heard == ["ready", "stopping"], "ready once, with the first frame"


def test_a_frame_that_cannot_be_read_or_classified_is_skipped_and_counted():
    sink = Recorder()
    loop = loop_of(Opener([FRAMES, ImageError("corrupt.jpg"), FRAMES, FRAMES]),
                   Labels("a", ImageError("too small"), "b"), sink)
    loop.run()
    assert sink.labels() == ["a", "b"] and loop.counts.skipped == 2
    assert "2 frames skipped" in loop.status_text()


def test_min_score_makes_results_uncertain_and_count_stops_after_that_many_shown():
    unsure = Recorder()
    loop_of(Opener([FRAMES] * 3), Labels(score=0.6), unsure, settings=LoopSettings(min_score=0.8)).run()
    assert [d.uncertain for d in unsure.deliveries] == [True, True, True]
    sure = Recorder()
    loop = loop_of(Opener([FRAMES] * 100), Labels(None, score=0.6), sure, settings=LoopSettings(min_score=0.5, count=2))
    loop.run()
    assert sure.labels() == [None, "more", "more"], "nothing in view is handed over but not counted as shown"
    assert (loop.counts.shown, loop.counts.nothing) == (2, 1)


def test_on_change_hands_over_only_results_that_differ_from_the_one_before():
    sink = Recorder()
    loop_of(Opener([FRAMES] * 6), Labels("a", "a", None, None, "a", "b"), sink,
            settings=LoopSettings(on_change=True)).run()
    assert sink.labels() == ["a", None, "a", "b"]
    assert all(d.changed for d in sink.deliveries)


def test_trigger_mode_classifies_one_frame_per_capture_and_merges_a_flood_of_them():
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    for _ in range(5):
        events.put(CAPTURE)  # a held-down relay
    sink = Recorder(then=lambda delivery: events.put(STOP))
    loop = loop_of(Opener([FRAMES] * 10), Labels(), sink, settings=LoopSettings(mode="trigger"), events=events)
    loop.run()
    assert len(sink.deliveries) == 1
    continuous = Recorder(then=lambda delivery: events.put(CAPTURE))
    loop_of(Opener([FRAMES] * 3), Labels(), continuous).run()
    assert len(continuous.deliveries) == 3, "a capture means nothing to a continuous loop"


def test_a_stop_finishes_the_current_frame_and_closes_the_source():
    opener = Opener([FRAMES] * 100)
    loop = loop_of(opener, Labels(), Recorder(then=lambda delivery: loop.stop()))
    loop.run()
    assert loop.counts.classified == 1 and opener.opened[0].closed


def test_a_reload_runs_between_frames_and_switches_the_model_the_sinks_and_the_camera():
    listener, old, new = Listener(), Recorder(then=lambda delivery: loop.events.put(RELOAD)), Recorder()
    opener = Opener([FRAMES] * 100)

    def reload() -> None:
        loop.switch(Labels("new", "new"), Sinks([new]), LoopSettings(count=3), Opener([FRAMES] * 100))

    loop = loop_of(opener, Labels("old"), old, listener=listener, on_reload=reload)
    loop.run()
    assert old.labels() == ["old"] and new.labels() == ["new", "new"], "the counts carry over: 3 shown in all"
    assert opener.opened[0].closed, "new camera settings: the old camera is closed"
    assert listener.heard == ["ready", "reloading", "ready", "stopping"]


def test_a_reload_without_anyone_to_reload_is_ignored():
    sink = Recorder(then=lambda delivery: loop.events.put(RELOAD))
    loop = loop_of(Opener([FRAMES] * 3), Labels(), sink)
    loop.run()
    assert len(sink.deliveries) == 3


def test_the_model_input_is_kept_only_while_a_sink_wants_it():
    class Watcher(Recorder):
        watching = False

        def wants_model_input(self) -> bool:
            return self.watching

    watcher, pipeline = Watcher(then=lambda delivery: setattr(watcher, "watching", True)), Labels()
    loop_of(Opener([FRAMES] * 2), pipeline, watcher).run()
    assert pipeline.framing_steps[0] is None and pipeline.framing_steps[1] is not None
    assert watcher.deliveries[0].model_input is None and watcher.deliveries[1].model_input is not None


def test_a_watched_folder_with_nothing_new_still_answers_events():
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Timer(0.1, events.put, (STOP,)).start()
    loop = loop_of(Opener([FRAMES] + [NothingYet()] * 100), Labels(), Recorder(), events=events)
    loop.run()
    assert loop.counts.classified == 1 and loop.counts.skipped == 0


def test_the_status_says_a_watched_folder_is_done_and_waiting_until_a_new_image_comes():
    statuses = []
    loop = loop_of(Opener([FRAMES, NothingYet(), NothingYet(), FRAMES]), Labels(), Recorder(),
                   settings=LoopSettings(count=2))
    original = loop._read_frame

    def read_and_note():
        frame = original()
        statuses.append(loop.status_text())
        return frame

    loop._read_frame = read_and_note
    loop.run()
    waiting = "every image classified, waiting for new ones in fake:camera"
    assert [waiting in status for status in statuses] == [False, True, True, False]


def test_signals_become_events_and_the_old_handlers_come_back():
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    with signals_to_events(events):
        for number in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            os.kill(os.getpid(), number)
        assert [events.get(timeout=5) for _ in range(3)] == [RELOAD, STOP, STOP]
    assert {number: signal.getsignal(number) for number in before} == before
