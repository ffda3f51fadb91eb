"""Each watched region on MQTT: its steady state, retained, and a snapshot of it at each change of state.

Topics under ``<prefix>/region/<name>/``: ``state`` is the region's newest steady answer in the
result schema, plus ``state`` (its label, or "nothing in view") and ``last_changed`` (when that
state began, ISO 8601 UTC); ``image`` is the region's crop as JPEG, sent when the state changes.
Both retained, so Home Assistant shows them after its own restart. The loop only notes an answer
(O(1), a small copy of the crop at a change); the MQTT thread encodes and sends.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from piclassify.device.core.regions import NOTHING

if TYPE_CHECKING:
    from piclassify.device.core.sink import Delivery
    from piclassify.shared.contract.result import Result

JPEG_QUALITY = 85

Payload = Union[str, bytes]


def region_topics(prefix: str, name: str) -> dict[str, str]:
    """A region's own topics under the Pi's ``prefix``."""
    return {"state": f"{prefix}/region/{name}/state", "image": f"{prefix}/region/{name}/image"}


class RegionStates:
    """The newest steady answer of each region (and its snapshot at a change), until the MQTT thread takes them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Result, Optional[np.ndarray]]] = {}
        self._changed_at: dict[str, float] = {}
        self._sent: dict[str, list[tuple[str, Payload]]] = {}  # what each region last sent: sent again on a reconnect

    def note(self, delivery: Delivery) -> None:
        """A region's steady answer from the loop: kept for the MQTT thread, the newest per region."""
        result = delivery.result
        if result.region is None or not delivery.steady:
            return
        snapshot = np.array(delivery.crop.rgb) if delivery.changed and delivery.crop is not None else None
        with self._lock:
            if delivery.changed or result.region not in self._changed_at:
                self._changed_at[result.region] = result.time
            waiting = self._pending.get(result.region)
            if snapshot is None and waiting is not None:
                snapshot = waiting[1]  # a change not yet sent keeps its picture
            self._pending[result.region] = (result, snapshot)

    def take(self) -> list[tuple[str, Payload]]:
        """(topic, payload) of every region's news since the last call, to publish retained."""
        with self._lock:
            pending, self._pending = self._pending, {}
            changed_at = dict(self._changed_at)
        messages: list[tuple[str, Payload]] = []
        for name, (result, snapshot) in pending.items():
            topics = region_topics(self.prefix, name)
            made: list[tuple[str, Payload]] = [(topics["state"], state_json(result, changed_at[name]))]
            if snapshot is not None:
                made.append((topics["image"], jpeg(snapshot)))
            sent = dict(self._sent.get(name, []))
            sent.update(made)
            self._sent[name] = list(sent.items())
            messages += made
        return messages

    def again(self) -> list[tuple[str, Payload]]:
        """Everything last sent, for a new connection (a restarted broker may have lost what it retained)."""
        return [message for sent in self._sent.values() for message in sent]


def state_json(result: Result, changed_at: float) -> str:
    """The region's state message: the result's record, its state by name, and since when."""
    record = result.record()
    record["state"] = result.label if result.label is not None else NOTHING
    record["last_changed"] = datetime.fromtimestamp(changed_at, timezone.utc).isoformat(timespec="milliseconds")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
