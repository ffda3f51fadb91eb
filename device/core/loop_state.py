"""Who hears the loop (``Listener``) and what it has counted (``LoopCounts``): read by STATUS, the web view, MQTT."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:
    from piclassify.shared.contract.result import Result


class Listener(Protocol):
    """Who hears the loop's state: systemd's notify socket in the service (``Notifier``)."""

    @property
    def watchdog_interval(self) -> Optional[float]: ...

    def ready(self, status: str) -> None: ...
    def heartbeat(self, status: str, extend_start_s: Optional[float] = None) -> None: ...
    def reloading(self) -> None: ...
    def stopping(self) -> None: ...


class Nobody:
    """The listener of a loop run by hand: there is no one to tell."""

    watchdog_interval: Optional[float] = None

    def ready(self, status: str) -> None: ...
    def heartbeat(self, status: str, extend_start_s: Optional[float] = None) -> None: ...
    def reloading(self) -> None: ...
    def stopping(self) -> None: ...


@dataclass
class LoopCounts:
    """What the loop has done since it started: STATUS, the web view's /metrics and MQTT read these."""

    started: float = field(default_factory=time.monotonic)
    classified: int = 0  # every frame classified, shown or not: outputs derive frames/s from it
    shown: int = 0
    nothing: int = 0
    skipped: int = 0
    camera_errors: int = 0
    frame_at: Optional[float] = None  # time.monotonic() of the last frame read
    last: Optional[Result] = None
