"""One classified frame, the same from the model to every output: console, results log, LEDs, web, MQTT.

``Result.record()`` is the one JSON schema (README, "The result schema"): ``predict --json`` (a
table model's rows too), ``run --json`` and the service's results log all write it, and MQTT and
the web view publish it. "Nothing in view" is a result too: label, index and score are null and
``reason`` says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from piclassify.shared.contract.tensors import Prediction

SCHEMA_VERSION = 1
STAGES = ("preprocess", "invoke", "postprocess")  # the keys of ``Result.stage_ms``, in the order they run


@dataclass(frozen=True)
class Result:
    """What the model made of one frame, where the frame came from, and what each stage cost."""

    model: str
    source: str  # the file a frame was read from, or the camera's name
    frame: int  # the frame's number in its source, from 0
    time: float  # when the frame was captured, seconds since the epoch
    prediction: Optional[Prediction]  # None when nothing is in view
    reason: Optional[str] = None  # why nothing is in view
    latency_ms: float = 0.0
    stage_ms: Mapping[str, float] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)  # a table model's inputs, notes, value and unit
    region: Optional[str] = None  # the configured region of the frame the model read; None: the whole frame

    @property
    def label(self) -> Optional[str]:
        return self.prediction.label if self.prediction is not None else None

    @property
    def index(self) -> Optional[int]:
        return self.prediction.index if self.prediction is not None else None

    @property
    def score(self) -> Optional[float]:
        return self.prediction.score if self.prediction is not None else None

    @property
    def top(self) -> tuple[tuple[str, float], ...]:
        return self.prediction.top(3) if self.prediction is not None else ()

    def record(self) -> dict[str, Any]:
        """The documented JSON object, keys in the order a person reading a log wants them.

        Made once for all the outputs that ask (results log, MQTT, the web view's clients); each gets a copy.
        """
        made: Optional[dict[str, Any]] = self.__dict__.get("_record")
        if made is None:
            made = self._make_record()
            object.__setattr__(self, "_record", made)  # a cache, not a field: equality and repr ignore it
        return dict(made)

    def _make_record(self) -> dict[str, Any]:
        region = {"region": self.region} if self.region is not None else {}  # the whole frame: no key, as before
        return {
            "schema": SCHEMA_VERSION,
            "time": datetime.fromtimestamp(self.time, timezone.utc).isoformat(timespec="milliseconds"),
            "model": self.model,
            "source": self.source,
            **region,
            "frame": self.frame,
            "label": self.label,
            "index": self.index,
            "score": round(self.score, 4) if self.score is not None else None,
            "top": [[label, round(score, 4)] for label, score in self.top],
            "reason": self.reason,
            "latency_ms": round(self.latency_ms, 2),
            **self.extras,
        }

    def json(self) -> str:
        """``record()`` as one line of compact JSON."""
        return json.dumps(self.record(), ensure_ascii=False, separators=(",", ":"))

    def text(self, name: Optional[str] = None) -> str:
        """One line for a person: ``photo.jpg: 7 (0.98)  top-3: ...  1.2 ms``."""
        where = name if name is not None else self.source
        if self.region is not None:
            where = f"{where} [{self.region}]"
        if self.prediction is None:
            return f"{where}: nothing in view ({self.reason})"
        top = ", ".join(f"{label} {score:.2f}" for label, score in self.top)
        return f"{where}: {self.label} ({self.score:.2f})  top-3: {top}  {self.latency_ms:.1f} ms"
