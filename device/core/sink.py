"""Where results go: every output is a ``Sink``, and ``Sinks`` keeps a failing one from stopping the loop.

The loop decides once what a result means (``Delivery.uncertain``); a sink only acts on it. A sink
that raises is logged once per kind of fault, rests (1 s doubling to 60 s) and is tried again; the
other sinks and the classification carry on. When it works again, one line says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

import numpy as np

from piclassify.device.core.backoff import Backoff
from piclassify.device.core.frames import Frame
from piclassify.shared.contract.result import Result

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """A result, its frame, and the loop's verdicts: ``uncertain`` scores below the configured
    ``min_score``; ``changed`` answers differently from the result before (a label, or nothing in view);
    ``model_input`` is the framed image the model read, kept only while a sink wants it (``wants_model_input``).

    A watched region's answer (``result.region`` set) carries the ``crop`` the model read; ``steady`` is False for
    an answer that is not (yet) the region's steady state: only sinks that ask for raw answers get those
    (``takes_raw``), and ``changed`` is True when the region's steady state has just changed."""

    result: Result
    frame: Frame
    uncertain: bool = False
    changed: bool = True
    model_input: Optional[np.ndarray] = None
    steady: bool = True
    crop: Optional[Frame] = None


class Sink(Protocol):
    """An output: console, results log, LEDs, saved frames, web view, MQTT."""

    name: str

    def handle(self, delivery: Delivery) -> None:
        """Act on one result; raise on failure (``Sinks`` logs it and retries later)."""

    def close(self) -> None:
        """Release files, pins and connections; called once, also after a failure."""

    # Optional: ``wants(delivery) -> bool``: whether ``handle`` would do anything with it (the results log and saved
    # frames pass over "nothing in view"); a delivery it does not want is neither a failure nor a recovery.
    # Optional: ``faults() -> list[str]``, what a sink that never raises (it retries by itself, as MQTT does
    # while its broker is away) is suffering now; ``Sinks.faults`` puts it in STATUS beside the others.
    # Optional: ``takes_raw: bool``, True for a sink that also wants a region's raw answers (``steady`` False): the
    # results log with ``raw = true``; every other sink sees only steady states.
    # Optional: ``wants_model_input() -> bool``, asked before each frame (so it must be cheap); while a sink
    # says True, the loop keeps the framed model input for ``Delivery.model_input`` (the web view, watched).


class _Health:
    """One sink's failures: the kind of the last fault, and when it may be tried again."""

    def __init__(self) -> None:
        self.backoff = Backoff(1.0, 60.0)
        self.fault: Optional[str] = None
        self.retry_at = 0.0


class Sinks:
    """Every sink in order; none can stop the loop or the sinks after it."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)
        self._health = [_Health() for _ in self.sinks]
        self._input_wanted = [sink.wants_model_input for sink in self.sinks if hasattr(sink, "wants_model_input")]
        self._wants = [getattr(sink, "wants", lambda delivery: True) for sink in self.sinks]
        self._raw = [bool(getattr(sink, "takes_raw", False)) for sink in self.sinks]

    def wants_model_input(self) -> bool:
        """Whether a sink shows the framed model input now; only then does the loop keep it."""
        return any(wanted() for wanted in self._input_wanted)

    def handle(self, delivery: Delivery) -> None:
        now = time.monotonic()
        for sink, health, wants, raw in zip(self.sinks, self._health, self._wants, self._raw):
            if not (delivery.steady or raw) or now < health.retry_at or not wants(delivery):
                continue  # a full disk "works again" only by writing
            try:
                sink.handle(delivery)
            except Exception as error:  # a sink's failure is logged, never the loop's end
                self._failed(sink, health, error)
            else:
                if health.fault is not None:
                    log.info("%s works again", sink.name)
                    health.fault = None
                    health.backoff.reset()

    def faults(self) -> list[str]:
        """The sinks now failing, as ``name (fault)``, for STATUS; also what a sink reports of itself (``faults()``)."""
        failing = [f"{sink.name} ({health.fault})" for sink, health in zip(self.sinks, self._health) if health.fault]
        for sink in self.sinks:
            own = getattr(sink, "faults", None)
            if own is not None:
                failing += [f"{sink.name} ({fault})" for fault in own()]
        return failing

    def close(self, keep: Optional[Sink] = None) -> None:
        """Close every sink (but ``keep``: the web view a reload keeps)."""
        for sink in self.sinks:
            if sink is keep:
                continue
            try:
                sink.close()
            except Exception as error:  # closing one output must not leave the others open
                log.warning("%s: cannot close: %s", sink.name, error)

    @staticmethod
    def _failed(sink: Sink, health: _Health, error: Exception) -> None:
        """Log a fault when it starts (or changes kind), not on every frame; a full disk is one line."""
        kind = type(error).__name__
        delay = health.backoff.next_delay()
        health.retry_at = time.monotonic() + delay
        if kind != health.fault:
            log.error("%s failed: %s; retrying in %gs, further failures of this kind are not logged",
                      sink.name, error, delay)
        health.fault = kind
