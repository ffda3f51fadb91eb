"""``piclassify fleet``: every Pi on one MQTT broker, a line each: name, online, last label, score, age.

It subscribes to ``<prefix>/+/state``, ``<prefix>/+/availability`` and ``<prefix>/+/stats`` (what
each Pi's MQTT output retains, README "Results on MQTT"), so a snapshot is complete as soon as the
broker has handed over its retained messages. Live, it redraws a table on a terminal and prints a
line per change otherwise; ``--once`` and ``--seconds N`` print one snapshot and exit; ``--json``
writes one JSON object per Pi and line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TextIO

from piclassify.shared.errors import PiclassifyError

if TYPE_CHECKING:  # paho and ssl load only when the command runs
    from piclassify.device.sinks.mqtt.client import Broker

SETTLE_S = 0.3  # the first snapshot is taken when no retained message arrived for this long
ONCE_LIMIT_S = 5.0  # ... or after this long at most
CONNECT_TIMEOUT_S = 10.0
REDRAW_S = 1.0  # a live table's ages are brought up to date this often
MAX_PAYLOAD = 64 * 1024  # a state message is a few hundred bytes; anything larger is not a Pi's
MAX_PIS = 1000  # names heard of; any client that may publish could otherwise make up millions
TEXT_FIELDS = {"label": 64, "model": 64, "reason": 200, "time": 40}  # a state's text fields, at most this long
NUMBER_FIELDS = ("score", "value")


class FleetError(PiclassifyError):
    """The broker cannot be reached or refuses us."""


def add_fleet_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fleet", help="every Pi on one MQTT broker: online, last label, score, age",
        description="Subscribe to PREFIX/+/state, PREFIX/+/availability and PREFIX/+/stats on the broker the "
                    "services publish to ([mqtt] in their config) and show one line per Pi, kept up to date.",
        epilog="Example: piclassify fleet --host broker.local --once")
    p.add_argument("--host", required=True, help="the broker's host name or address")
    p.add_argument("--port", type=_number(int, 1, 65535), default=None, help="default 1883, or 8883 with TLS")
    p.add_argument("--username", help="user name on the broker")
    p.add_argument("--password-file", type=Path, help="a file holding only the password")
    p.add_argument("--ca-file", type=Path, help="CA certificate(s) to check the broker with (PEM); turns TLS on")
    p.add_argument("--tls", action="store_true", help="TLS with the system's CA certificates")
    p.add_argument("--prefix", default="piclassify",
                   help="the topic level above each Pi's name (default piclassify: topics piclassify/<name>/...)")
    p.add_argument("--json", action="store_true", help="one JSON object per Pi and line")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="print what the broker holds now, then exit")
    when.add_argument("--seconds", type=_number(float, 0, 86400), metavar="N",
                      help="listen N seconds, print a snapshot, exit")
    p.set_defaults(func=fleet_command)


def _number(kind: type, low: float, high: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"{text!r}: expected a number from {low:g} to {high:g}")
        return value
    return parse


@dataclass
class Pi:
    """What the broker told us of one Pi."""

    name: str
    online: Optional[bool] = None  # None: no availability message (yet)
    state: dict[str, Any] = field(default_factory=dict)  # its newest result, in the result schema
    stats: dict[str, Any] = field(default_factory=dict)

    def age_s(self, now: float) -> Optional[float]:
        """Seconds since its newest result was captured."""
        try:
            return max(0.0, now - datetime.fromisoformat(self.state["time"]).timestamp())
        except (KeyError, TypeError, ValueError):
            return None

    def record(self, now: float) -> dict[str, Any]:
        age = self.age_s(now)
        return {"name": self.name, "online": self.online, "label": self.state.get("label"),
                "score": self.state.get("score"), "model": self.state.get("model"),
                "reason": self.state.get("reason"), "time": self.state.get("time"),
                "age_s": None if age is None else round(age, 1), "fps": self.stats.get("fps")}

    def line(self, now: float) -> str:
        online = {True: "online", False: "offline", None: "?"}[self.online]
        if not self.state:
            label, score = "(no result yet)", ""
        elif self.state.get("label") is None and "value" not in self.state:
            label, score = "nothing in view", ""
        else:
            label = str(self.state.get("label") if self.state.get("label") is not None else self.state.get("value"))
            score = f"{self.state['score']:.2f}" if isinstance(self.state.get("score"), (int, float)) else ""
        age = self.age_s(now)
        fps = self.stats.get("fps")
        return (f"{self.name:<16} {online:<7} {label:<18} {score:>5} {_age(age):>8}  "
                f"{'' if fps is None else f'{fps:g} fps':>9}  {self.state.get('model') or ''}").rstrip()


HEADER = f"{'NAME':<16} {'ONLINE':<7} {'LABEL':<18} {'SCORE':>5} {'AGE':>8}  {'FPS':>9}  MODEL"


class Fleet:
    """The Pis heard of on one broker, from its retained and live messages."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self.pis: dict[str, Pi] = {}
        self.changed: list[str] = []  # names updated since the last look
        self.retained_at = time.monotonic()  # when the last retained message (the broker's memory) arrived

    def topics(self) -> list[str]:
        return [f"{self.prefix}/+/{kind}" for kind in ("state", "availability", "stats")]

    def take(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """One message; anything that is not a Pi's (a stranger's topic, broken or hostile JSON, a name or label
        with control characters) is passed over, and what is kept is only the fields we show, checked."""
        if retained:
            self.retained_at = time.monotonic()
        if not topic.startswith(self.prefix + "/") or len(payload) > MAX_PAYLOAD:
            return
        parts = topic[len(self.prefix) + 1:].split("/")
        if len(parts) != 2 or not _printable(parts[0], 64):
            return
        name, kind = parts
        if name not in self.pis and len(self.pis) >= MAX_PIS:
            return
        text = payload.decode("utf-8", "replace")
        if kind == "availability":
            self.pis.setdefault(name, Pi(name)).online = {"online": True, "offline": False}.get(text)
        else:
            try:
                value = json.loads(text, parse_constant=_no_constant) if text else {}
            except (ValueError, RecursionError):
                return
            if not isinstance(value, dict):
                return
            setattr(self.pis.setdefault(name, Pi(name)), kind, _checked_state(value) if kind == "state" else
                    {"fps": value["fps"]} if _finite(value.get("fps")) else {})
        if name not in self.changed:  # bounded by MAX_PIS
            self.changed.append(name)

    def snapshot(self) -> list[Pi]:
        return [self.pis[name] for name in sorted(self.pis)]


def _printable(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _checked_state(value: dict[str, Any]) -> dict[str, Any]:
    """The fields of a result we show: printable text of bounded length, finite numbers; nothing else."""
    state = {key: value[key] for key, limit in TEXT_FIELDS.items() if _printable(value.get(key), limit)}
    state.update({key: value[key] for key in NUMBER_FIELDS if _finite(value.get(key))})
    return state


def fleet_command(args: argparse.Namespace) -> int:
    from piclassify.device.sinks.mqtt.client import Broker

    tls = args.tls or args.ca_file is not None
    broker = Broker(args.host, args.port or (8883 if tls else 1883), tls, args.ca_file, None, None,
                    args.username, args.password_file)
    if args.password_file is not None and args.username is None:
        raise FleetError("--password-file needs --username")
    fleet = Fleet(args.prefix)
    watch(broker, fleet, once=args.once, seconds=args.seconds, as_json=args.json)
    return 0


def watch(broker: Broker, fleet: Fleet, *, once: bool = False, seconds: Optional[float] = None,
          as_json: bool = False, out: Optional[TextIO] = None) -> None:
    """Connect, subscribe, and print: a snapshot (``once``, ``seconds``) or live until Ctrl-C.

    Live, the first snapshot waits for the broker's retained messages too, so that a Pi's first
    line is whole; after it, a terminal gets the table redrawn, anything else a line per change.
    """
    out = out or sys.stdout
    client = _connect(broker, fleet)
    try:
        started = fleet.retained_at = time.monotonic()  # from the SUBACKs: the retained messages follow them
        settled = False
        redraw_at = 0.0
        while True:
            if client.loop(timeout=0.1) != 0:
                raise FleetError(f"broker {broker}: connection lost")
            now = time.monotonic()
            if not settled and (now - fleet.retained_at >= SETTLE_S or now - started >= ONCE_LIMIT_S):
                fleet.changed.clear()
                settled = True
                if once:
                    break
                if seconds is None:
                    _print(fleet.snapshot(), out, as_json, empty=fleet.prefix)
                    redraw_at = now + REDRAW_S
            if seconds is not None:
                fleet.changed.clear()
                if now - started >= seconds:
                    break
            elif settled:
                redraw_at = _show_live(fleet, out, as_json, redraw_at)
        if once or seconds is not None:
            _print(fleet.snapshot(), out, as_json, empty=fleet.prefix)
    finally:
        client.disconnect()


def _connect(broker: Broker, fleet: Fleet) -> Any:
    import uuid

    from piclassify.device.sinks.mqtt.client import describe, new_client, on_connect, on_message, on_subscribe

    client = new_client(f"piclassify-fleet-{uuid.uuid4().hex[:8]}", broker)
    answer: list[Optional[str]] = []
    on_connect(client, answer.append)
    on_message(client, lambda message: fleet.take(message.topic, message.payload, bool(message.retain)))
    try:
        client.reconnect()
    except (OSError, ValueError) as error:
        raise FleetError(f"cannot connect to broker {broker}: {describe(error)}") from None
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not answer:
        if client.loop(timeout=0.1) != 0 and not answer:
            raise FleetError(f"cannot connect to broker {broker}: the connection was closed")
        if time.monotonic() > deadline:
            raise FleetError(f"cannot connect to broker {broker}: no answer in {CONNECT_TIMEOUT_S:g} s")
    if answer[0] is not None:
        raise FleetError(f"cannot connect to broker {broker}: {answer[0]}")
    acknowledged: list[int] = []
    on_subscribe(client, lambda: acknowledged.append(1))
    client.subscribe([(topic, 1) for topic in fleet.topics()])
    while not acknowledged:
        if client.loop(timeout=0.1) != 0:
            raise FleetError(f"broker {broker}: connection lost")
        if time.monotonic() > deadline:
            raise FleetError(f"broker {broker}: no answer to subscribing in {CONNECT_TIMEOUT_S:g} s")
    return client


def _show_live(fleet: Fleet, out: TextIO, as_json: bool, redraw_at: float) -> float:
    """On a terminal, the whole table, redrawn; otherwise a line per Pi that changed."""
    now = time.monotonic()
    if out.isatty() and not as_json:
        if fleet.changed or now >= redraw_at:
            fleet.changed.clear()
            out.write("\x1b[H\x1b[2J")
            _print(fleet.snapshot(), out, as_json, empty=fleet.prefix)
            return now + REDRAW_S
        return redraw_at
    names = list(dict.fromkeys(fleet.changed))
    fleet.changed.clear()
    if names:
        _print([fleet.pis[name] for name in names], out, as_json, header=False)
    return redraw_at


def _print(pis: list[Pi], out: TextIO, as_json: bool, header: bool = True, empty: str = "") -> None:
    """A table with its header (a note under it when ``empty`` and there is no Pi), or JSON lines."""
    now = time.time()
    if as_json:
        lines = [json.dumps(pi.record(now), ensure_ascii=False) for pi in pis]
    else:
        lines = ([HEADER] if header else []) + [pi.line(now) for pi in pis]
        if header and not pis:
            lines.append(f"(no Pi has published under {empty}/ yet)")
    for line in lines:
        print(line, file=out, flush=True)


def _age(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f}h ago"
    return f"{seconds / 86400:.0f}d ago"
