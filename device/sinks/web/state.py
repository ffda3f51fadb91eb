"""What the web view shows: the newest frame, model input and results, shared by the sink and the server's threads.

``WebState.handle`` runs in the classify loop, so it only stores references under a lock and wakes
the waiting streams: O(1), never waiting for a client. Everything costly happens in the server's
threads: a frame is JPEG-encoded once, by the first client that wants it, for all of them
(``WebState.look``), and not at all while nobody watches. The loop keeps the framed model input
only while someone looked at the page in the last ``WATCH_S`` seconds (``wants_model_input``).

What a client shows of a frame is one ``Look``: its result, its JPEG with that result drawn on it,
and its model input. The last ``LOOKS`` stay, by number, so the page can fetch the picture and the
model input of the very frame whose answer it shows, not of whichever frame is newest by then.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

import numpy as np

from piclassify.device.core.rate import Rate
from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.web.history import published
from piclassify.device.sinks.web.render import caption, frame_jpeg, model_input_png
from piclassify.shared.contract.result import STAGES, Result

if TYPE_CHECKING:
    from piclassify.device.core.loop import FrameLoop
    from piclassify.device.core.pipeline import Pipeline

WATCH_S = 10.0  # a request for the page, a stream or the model input keeps the model input coming this long
RECENT = 1000  # results kept in memory for the event streams (and for /api/results without a results log)
LOOKS = 8  # encoded frames kept for the pages still fetching their parts (a second or two at the stream's rate)


class TeachPanel(Protocol):
    """What the teach API (``teach_api``) asks of the service's teach panel (``device.teach.teacher.Teacher``).

    Each call raises a ``PiclassifyError`` saying why not (``TeachBusy`` while a fit runs), or returns the
    panel's status (or, from ``classify``, a result record) as JSON-ready values.
    """

    def status(self) -> dict[str, Any]: ...
    def capture(self, label: str, rgb: np.ndarray) -> dict[str, Any]: ...
    def undo(self) -> dict[str, Any]: ...
    def remove(self, label: str) -> dict[str, Any]: ...
    def fit(self, name: str) -> None: ...
    def classify(self, rgb: np.ndarray, model: Optional[str] = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WebView:
    """What the web view reads from the service (or ``piclassify run``), handed over explicitly."""

    model: str
    measured: Optional[tuple[float, str]]  # the accuracy the model was measured at (0-1), and on what
    runtime: str
    source: str
    mode: str  # "continuous" or "trigger"
    input_size: tuple[int, int]  # the model's input (width, height)
    results_log: Optional[Path]  # the durable results log; None: recent results from memory only
    trigger: Callable[[], None]  # what the GPIO button does: one CAPTURE on the loop's events
    loop: Callable[[], Optional[FrameLoop]] = lambda: None  # the running loop (counters, status), once started
    teacher: Optional[TeachPanel] = None  # the teach panel (the service's), or none

    @classmethod
    def of(cls, pipeline: Pipeline, source: str, mode: str, results_log: Optional[Path],
           trigger: Callable[[], None], loop: Callable[[], Optional[FrameLoop]],
           teacher: Optional[TeachPanel] = None) -> "WebView":
        manifest, runtime = pipeline.manifest, pipeline.classifier.runtime
        size = (manifest.width, manifest.height)
        backbone, head = manifest.backbone, manifest.head
        if backbone is not None and head is not None and head.classifies:  # the label is what the backbone saw
            size = (backbone.size, backbone.size)
        return cls(manifest.name, manifest.measured_accuracy, f"{runtime.name} {runtime.version}", source, mode, size,
                   results_log, trigger, loop, teacher)


def listed(delivery: Delivery) -> bool:
    """Whether a delivery is one of the results (and events): "nothing in view" only when it starts."""
    return delivery.result.label is not None or delivery.changed


class Look:
    """One frame as every client shows it: its number, its result's record (with its id), the frame with that result
    drawn on it as JPEG (encoded here, once), when that was (``time.monotonic()``), and its model input as PNG (made
    when first asked for). It keeps no frame, only the JPEG and the small model input."""

    __slots__ = ("seq", "record", "listed", "jpeg", "at", "_model_input", "_png")

    def __init__(self, seq: int, delivery: Delivery) -> None:
        self.seq = seq
        self.record = published(delivery.result)
        self.listed = listed(delivery)
        self.jpeg = frame_jpeg(delivery.frame, caption(delivery.result))
        self.at = time.monotonic()
        self._model_input = delivery.model_input
        self._png: Optional[bytes] = None

    def png(self, size: tuple[int, int]) -> bytes:
        if self._png is None:
            self._png = model_input_png(self._model_input, size)
        return self._png


class WebState:
    """What the loop last handed over, the recent results, the counts, and the clients' shared looks."""

    def __init__(self, view: WebView, recent: int = RECENT) -> None:
        self.view = view
        self.changed = threading.Condition(threading.Lock())  # guards everything below; notified per delivery
        self.closed = threading.Event()
        self.seq = 0  # deliveries so far: the number of the newest frame
        self.delivery: Optional[Delivery] = None
        self.recent: deque[Result] = deque(maxlen=recent)
        self.published = 0  # results ever appended to ``recent``
        self.counts: dict[str, int] = {}  # labels of this model since ``counts_since``: a model switch starts anew
        self.counts_since = time.time()
        self.stage_sum = dict.fromkeys(STAGES, 0.0)
        self.stage_count = 0
        self.watch_until = 0.0
        self.stream_sent = 0  # frames sent to stream clients
        self.stream_dropped = 0  # frames a stream client never got: a newer one came first (rate cap, slow client)
        self.encoded = 0  # frames JPEG-encoded for the page, the streams and snapshots
        self._looks: deque[Look] = deque(maxlen=LOOKS)  # oldest first
        self._encode = threading.Lock()
        self._rate = Rate()  # frames delivered here, while there is no loop to ask (tests of the sink alone)

    # -- from the loop ----------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        """Keep references to the newest frame and result; O(1), never blocking on a client."""
        result = delivery.result
        with self.changed:
            self.seq += 1
            self.delivery = delivery
            if result.label is not None:
                self.counts[result.label] = self.counts.get(result.label, 0) + 1
            if listed(delivery):
                self.recent.append(result)
                self.published += 1
            for stage in STAGES:
                self.stage_sum[stage] += result.stage_ms.get(stage, 0.0)
            self.stage_count += 1
            self.changed.notify_all()

    def wants_model_input(self) -> bool:
        return time.monotonic() < self.watch_until

    # -- for the server's threads -----------------------------------------------------------------

    def touch(self) -> None:
        """Someone is watching: keep the model input coming for ``WATCH_S``."""
        self.watch_until = time.monotonic() + WATCH_S

    def count_sent(self, seq: int, previous: int) -> None:
        """A stream sent frame ``seq``; the frames since ``previous`` (0: none before) it never got."""
        with self.changed:
            self.stream_sent += 1
            if previous and seq > previous + 1:
                self.stream_dropped += seq - previous - 1

    def close(self) -> None:
        with self.changed:
            self.closed.set()
            self.changed.notify_all()

    def wait_frame(self, after: int, timeout: float) -> int:
        """The newest frame's number, once it is above ``after`` or ``timeout`` passed (or closing)."""
        with self.changed:
            self.changed.wait_for(lambda: self.seq > after or self.closed.is_set(), timeout)
            return self.seq

    def wait_results(self, cursor: int, timeout: float) -> tuple[list[Result], int]:
        """Results published after ``cursor`` (a count of ``published``), waiting up to ``timeout``; the new cursor.

        A client too slow to keep up skips the results that fell out of memory.
        """
        with self.changed:
            self.changed.wait_for(lambda: self.published > cursor or self.closed.is_set(), timeout)
            size = len(self.recent)
            new = min(self.published - cursor, size)
            return [self.recent[index] for index in range(size - new, size)], self.published

    def recent_results(self) -> tuple[list[Result], int]:
        with self.changed:
            return list(self.recent), self.published

    def latest(self) -> tuple[int, Optional[Delivery]]:
        with self.changed:
            return self.seq, self.delivery

    def fps(self) -> float:
        """Frames classified per second: the loop's one measure (``FrameLoop.fps``), or as delivered here."""
        loop = self.view.loop()
        return loop.fps() if loop is not None else self._rate(self.seq) or 0.0

    def look(self, every_s: float = 0.0) -> Optional[Look]:
        """The newest frame's look, encoded once however many clients ask for it; None before the first frame.

        Streams and pages pass their frame period: a newer frame is encoded only once ``every_s`` has passed since
        the last, so all of them share one frame per period, and one encoding.
        """
        with self._encode:
            seq, delivery = self.latest()
            with self.changed:
                cached = self._looks[-1] if self._looks else None
            if cached is not None and (cached.seq >= seq or time.monotonic() < cached.at + every_s):
                return cached
            if delivery is None:
                return None
            look = Look(seq, delivery)
            with self.changed:
                self._looks.append(look)
                self.encoded += 1
            return look

    def next_look(self, after: int, every_s: float, timeout: float) -> Optional[Look]:
        """The shared look of a frame newer than ``after`` once one is due (see ``look``); when ``timeout`` passes
        first (or on closing), the newest look, which may be the one numbered ``after`` again."""
        deadline = time.monotonic() + timeout
        while not self.closed.is_set() and time.monotonic() < deadline:
            if self.wait_frame(after, deadline - time.monotonic()) <= after:
                continue
            look = self.look(every_s)
            if look is None or look.seq > after:
                return look
            if self.closed.wait(max(0.0, min(look.at + every_s, deadline) - time.monotonic())):  # not due yet
                break
        return self.look(every_s)

    def look_at(self, seq: int) -> Optional[Look]:
        """Frame ``seq``'s look, while it is among the last ``LOOKS``."""
        with self.changed:
            return next((look for look in self._looks if look.seq == seq), None)

    def model_input(self) -> Optional[np.ndarray]:
        with self.changed:
            return self.delivery.model_input if self.delivery is not None else None

