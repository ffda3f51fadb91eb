"""The MQTT sink: each result to a broker, for Home Assistant and for a fleet of Pis on one broker.

Topics under ``<prefix>`` (``[mqtt] topic_prefix``, by default ``piclassify/<client_id>``):

- ``result``: every result the loop hands over, as the documented JSON (``Result.json()``); "nothing
  in view" only when it starts, not for every empty frame after it;
- ``state``: the newest of them, retained;
- ``availability``: ``online`` (retained) on connect, ``offline`` as the Last Will and on a clean stop;
- ``stats``: frames per second and the delivery counters, retained, every ``stats_every_s``;
- ``trigger``: in trigger mode, any message (not empty, not retained) classifies one frame, as the
  button does.

It never blocks the classify loop: ``handle`` only appends to a bounded queue. A thread of its own
owns the paho client (connect, network, publish), so paho needs no locks of ours: at most
``WINDOW`` messages are in flight, the rest wait in the queue, which keeps the newest
``queue_size`` results while the broker is away and counts what it drops. Unknown host, refused
connection, wrong password, a TLS problem: one log line naming the broker, retries after 1 s
doubling to 60 s, and the service keeps classifying and writing its local results log. An error
nobody expected (from paho, or a bug of ours) is one such line with its traceback, and the thread
reconnects rather than stopping: a Pi left alone for months should not need a restart for MQTT.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.loop import CAPTURE
from piclassify.device.sinks.mqtt.client import (
    Broker,
    MqttSetupError,
    describe,
    new_client,
    on_connect,
    on_message,
    on_publish,
    paho,
)
from piclassify.device.sinks.mqtt.discovery import Model, RegionEntity, discovery_messages, topics
from piclassify.device.sinks.mqtt.regions import RegionStates

if TYPE_CHECKING:
    from piclassify.device.config import MqttConfig
    from piclassify.device.core.sink import Delivery
    from piclassify.shared.contract.result import Result

log = logging.getLogger(__name__)

WINDOW = 20  # messages sent and not yet acknowledged, at most; the rest wait in the bounded queue
POLL_S = 0.05  # the thread's network wait; a queued result goes out within this
DRAIN_S = 1.0  # on a clean stop: how long queued results may still go out before "offline"
GOODBYE_S = 1.0  # ... and how long "offline" may take


def sw_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("piclassify")
    except PackageNotFoundError:
        return "unknown"


class MqttSink:
    """Publishes results from its own thread; reads only ``[mqtt]``, the model, and the loop's counters.

    ``events`` is the loop's queue (a trigger message puts CAPTURE on it); ``classified`` returns
    how many frames the loop has classified so far (frames per second come from it). For the
    web view's /metrics: ``published``, ``dropped``, ``queued``, ``connected``.
    """

    name = "mqtt"

    def __init__(self, config: MqttConfig, *, model: Model, events: queue.SimpleQueue, trigger: bool = False,
                 classified: Callable[[], int] = lambda: 0, client_factory: Callable[..., Any] = new_client,
                 regions: Sequence[RegionEntity] = ()) -> None:
        assert config.host is not None, "MQTT is off while [mqtt] host is unset"
        paho()  # not installed: an install problem stops the service at start-up, as a missing gpiozero does
        self.broker = Broker.from_config(config)
        self.qos = config.qos
        self.queue_size = config.queue_size
        self.stats_every_s = config.stats_every_s
        self.topics = topics(config.prefix())
        self.trigger = trigger
        self.events = events
        self.classified = classified
        self.discovery = discovery_messages(node=config.name(), prefix=config.prefix(),
                                            discovery_prefix=config.discovery_prefix, model=model,
                                            trigger=trigger, sw_version=sw_version(),
                                            regions=regions) if config.homeassistant else []
        self.regions = RegionStates(config.prefix())  # each watched region's steady state and snapshot
        self.published = 0  # results the broker acknowledged (QoS 0: results sent)
        self.dropped = 0  # results dropped from a full queue while the broker was away
        self.connected = False
        self._lock = threading.Lock()  # guards _queue, _state, _state_sent, dropped: handle() runs in the loop
        self._queue: deque[Result] = deque()
        self._state: Optional[Result] = None  # the newest result, for <prefix>/state
        self._state_sent = True
        self._full_noted = False  # "dropping the oldest" is logged once per outage
        self._dropped_before = 0  # dropped when the current fault began
        self._inflight: dict[int, Optional[Result]] = {}  # message id -> the result sent, None for anything else
        self._delivered: set[int] = set()  # message ids paho reported delivered since the last _settle
        self._fault: Optional[str] = None
        self._refused = False
        self._socket_open = False
        self._retry_at = 0.0
        self._backoff = Backoff(1.0, 60.0)
        self._stats_due = 0.0
        self._stats_from = (time.monotonic(), classified())
        self._closing = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.setup_error: Optional[str] = None
        try:
            self.client = client_factory(config.name(), self.broker, config.keepalive,
                                         (self.topics["availability"], "offline", self.qos, True), WINDOW)
        except MqttSetupError as error:  # a TLS or password file: fixed by hand, then a reload tries again
            self.setup_error = str(error)
            log.error("MQTT %s; MQTT is off until that is fixed and the service reloaded; results go on to the "
                      "local results log", error)
            return
        on_connect(self.client, self._on_connect)
        on_message(self.client, self._on_message)
        on_publish(self.client, self._delivered.add)
        log.info("MQTT: publishing to broker %s as %s under %s/", self.broker, config.name(), config.prefix())
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    # -- the loop's side: never waits on the network ---------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        result = delivery.result
        if self.setup_error is not None:
            return
        self.regions.note(delivery)
        if result.label is None and not delivery.changed:
            return
        with self._lock:
            full = len(self._queue) >= self.queue_size
            if full:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(result)
            if result.region is None:  # a region's state has its own topic
                self._state, self._state_sent = result, False
            note, self._full_noted = full and not self._full_noted, self._full_noted or full
        if note:
            log.warning("MQTT broker %s: the queue is full (queue_size %d); dropping the oldest results until the "
                        "broker takes them again, the local results log keeps them all", self.broker, self.queue_size)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def faults(self) -> list[str]:
        """For STATUS: why nothing goes out now, with the queue's state."""
        if self.setup_error is not None:
            return [self.setup_error]
        if self._fault is not None and not self.connected:
            return [f"broker {self.broker}: {self._fault}; {self.queued} queued, {self.dropped} dropped"]
        return []

    def close(self) -> None:
        """Send what is queued (up to ``DRAIN_S``), then ``offline``, and disconnect."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(DRAIN_S + GOODBYE_S + 6)  # a connect attempt in progress may take its 5 s timeout

    # -- the thread's side: the only one that touches the client ---------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                if not self._socket_open:
                    self._connect()
                    continue
                self._send()
                self._send_stats()
                self._loop()
            except Exception as error:  # never expected: a months-long service starts the connection afresh
                self._unexpected(error)
        try:
            self._goodbye()
        except Exception:
            log.exception("MQTT broker %s: could not say goodbye; the broker publishes the Last Will", self.broker)

    def _unexpected(self, error: Exception) -> None:
        """Treated as a lost connection (reconnect after the backoff), and logged once with its traceback."""
        self._lost()
        self._failed(f"unexpected error {error!r}", traceback=True)

    def _connect(self) -> None:
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            self._closing.wait(min(wait, 0.5))
            return
        try:
            self.client.reconnect()  # TCP (and TLS) and CONNECT; the broker's answer arrives in _loop
        except (OSError, ValueError) as error:  # unknown host, refused, unreachable, TLS: ssl errors are OSErrors
            self._failed(describe(error))
            return
        self._socket_open = True

    def _loop(self) -> None:
        code = self.client.loop(timeout=POLL_S)
        if code != 0:  # the connection is gone (paho closed the socket)
            was_connected = self.connected
            self._lost()
            if self._refused:  # the broker said why; that is logged already
                self._refused = False
            else:
                self._failed("connection lost" if was_connected else
                             f"connection closed before the broker answered ({paho().error_string(code)})")

    def _lost(self) -> None:
        """The connection is gone: the next ``_connect`` (``client.reconnect()``) starts afresh."""
        self._socket_open = self.connected = False
        if self.qos == 0:  # paho sends QoS 1 and 2 again after reconnecting, but forgets QoS 0 not yet written
            self._settle()
            self._requeue([result for result in self._inflight.values() if result is not None])
            self._inflight.clear()

    def _on_connect(self, refusal: Optional[str]) -> None:
        if refusal is not None:
            self._refused = True
            self._failed(refusal)
            return
        self.connected = True
        self._backoff.reset()
        if self.trigger:  # subscribed before "online": whoever sees "online" can trigger
            self.client.subscribe(self.topics["trigger"], self.qos)
        self.client.publish(self.topics["availability"], "online", self.qos, retain=True)
        for topic, payload in [*self.discovery, *self.regions.again()]:
            self.client.publish(topic, payload, self.qos, retain=True)
        with self._lock:
            self._state_sent = self._state is None  # a restarted broker may have lost the retained state
            self._full_noted = False
            dropped = self.dropped - self._dropped_before
        if self._fault is None:
            log.info("MQTT broker %s: connected", self.broker)
        else:
            log.info("MQTT broker %s: connected again%s", self.broker,
                     f"; {dropped} results were dropped meanwhile (queue_size {self.queue_size})" if dropped else
                     "; nothing was lost")
        self._fault = None
        self._stats_due = time.monotonic() + min(self.stats_every_s, 1.0)  # fps over a second at least

    def _failed(self, reason: str, traceback: bool = False) -> None:
        """One line when a fault starts or changes kind; then quiet retries, 1 s doubling to 60 s."""
        self.connected = False
        delay = self._backoff.next_delay()
        self._retry_at = time.monotonic() + delay
        if reason != self._fault:
            if self._fault is None:
                self._dropped_before = self.dropped
            log.error("MQTT broker %s: %s; retrying in %gs, then up to 60s; results go on to the local results "
                      "log, further failures of this kind are not logged", self.broker, reason, delay,
                      exc_info=traceback)
        self._fault = reason

    def _on_message(self, message: Any) -> None:
        # A retained press is old news, and an empty message is how a retained one is cleared: neither captures.
        if message.topic == self.topics["trigger"] and message.payload and not message.retain:
            self.events.put(CAPTURE)

    def _send(self) -> None:
        """Publish each region's news, then queued results (and the newest state) while fewer than ``WINDOW`` are in
        flight."""
        self._settle()
        if self.connected:
            for topic, payload in self.regions.take():
                self.client.publish(topic, payload, self.qos, retain=True)
        while self.connected and len(self._inflight) < WINDOW:
            with self._lock:
                if not self._state_sent and self._state is not None:
                    result, topic, self._state_sent = self._state, self.topics["state"], True
                elif self._queue:
                    result, topic = self._queue.popleft(), self.topics["result"]
                else:
                    return
            is_result = topic == self.topics["result"]
            try:
                info = self.client.publish(topic, result.json(), self.qos, retain=not is_result)
            except Exception:  # never expected (see _unexpected); the result waits for the next connection
                if is_result:
                    self._requeue([result])
                raise
            if info.rc != 0 and self.qos == 0:  # not sent, and paho keeps only QoS 1 and 2 for later
                if is_result:
                    self._requeue([result])
                return
            self._inflight[info.mid] = result if is_result else None

    def _settle(self) -> None:
        """Forget what paho delivered; count its results."""
        for mid in self._delivered & self._inflight.keys():
            self.published += self._inflight.pop(mid) is not None
        self._delivered.clear()  # the rest: stats, availability, discovery

    def _requeue(self, results: list[Result]) -> None:
        """Results that did not go out, back to the front of the queue, which still keeps only the newest."""
        with self._lock:
            self._queue.extendleft(reversed(results))
            while len(self._queue) > self.queue_size:
                self._queue.popleft()
                self.dropped += 1

    def _send_stats(self) -> None:
        now = time.monotonic()
        if not self.connected or now < self._stats_due:
            return
        self._stats_due = now + self.stats_every_s
        then, count_then = self._stats_from
        count = self.classified()
        self._stats_from = (now, count)
        fps = (count - count_then) / (now - then) if now > then else 0.0
        stats = {"fps": round(fps, 2), "classified": count, "published": self.published, "queued": self.queued,
                 "dropped": self.dropped}
        self.client.publish(self.topics["stats"], json.dumps(stats, separators=(",", ":")), self.qos, retain=True)

    def _goodbye(self) -> None:
        """A clean stop: what is queued (for a while), then ``offline``, then DISCONNECT."""
        if self.connected:
            deadline = time.monotonic() + DRAIN_S
            while self.connected and (self._queue or not self._state_sent or self._inflight) \
                    and time.monotonic() < deadline:
                self._send()
                self._loop()
        if self.connected:
            self._stats_due = 0.0
            self._send_stats()
            offline = self.client.publish(self.topics["availability"], "offline", self.qos, retain=True).mid
            self._inflight[offline] = None
            deadline = time.monotonic() + GOODBYE_S
            while self.connected and offline in self._inflight and time.monotonic() < deadline:
                self._loop()
                self._settle()
        if self._socket_open:
            self.client.disconnect()
            self.client.loop(timeout=0.01)
        self._settle()
        left = self.queued + sum(result is not None for result in self._inflight.values())
        if left:
            log.warning("MQTT broker %s: stopped with %d results not delivered (%d dropped in all); the local "
                        "results log has them", self.broker, left, self.dropped)
