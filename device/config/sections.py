"""The config's keys, declared once: each key's type, default, check, help and example live in its field.

A section is a frozen dataclass of keys (``setting``); ``ServiceConfig`` holds the top-level keys
and a field per section (``section``). Reading (``reading``) and the example file (``example``)
follow from these declarations alone.
"""

from __future__ import annotations

import re
import socket
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional

from piclassify.device.config import checks
from piclassify.device.config.checks import Check, Pin
from piclassify.device.config.web_access import LOOPBACK
from piclassify.device.core.loop import MODES, LoopSettings
from piclassify.device.core.model_files import DEFAULT_MODEL
from piclassify.device.core.regions import Box, Region
from piclassify.device.core.regions.region import DEFAULT_AGREE, DEFAULT_CHANGE, DEFAULT_RECHECK_S


def setting(default: Any, check: Check, help: str, example: Optional[str] = None) -> Any:
    """One config key: its default, the check of its type and bounds, and its line in the example config.

    ``example`` is shown, commented out, for keys that are unset by default.
    """
    metadata = {"check": check, "help": help, "example": example}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(cls: type) -> Any:
    """A ``[section]`` of the file: its keys are the fields of ``cls``."""
    return field(default_factory=cls, metadata={"section": cls})


@dataclass(frozen=True)
class ButtonConfig:
    """A push button: a short press captures one frame in trigger mode; a long press does on_hold."""

    pin: Optional[Pin] = setting(None, checks.pin, "BCM number or gpiozero pin name (\"GPIO17\", \"BOARD11\"); "
                                                   "required in trigger mode", example="17")
    pull_up: bool = setting(True, checks.boolean, "true: button wired between the pin and ground; false: to 3.3 V")
    bounce_s: float = setting(0.05, checks.number(0, 1), "contact bounce shorter than this is ignored "
                                                         "(gpiozero bounce_time); 0 turns it off")
    hold_s: float = setting(2.0, checks.number(0.1, 60), "a press held this long is a long press (gpiozero hold_time) "
                                                         "and captures nothing")
    on_hold: str = setting("nothing", checks.choice("nothing", "reload"),
                           "long press: \"nothing\" or \"reload\" (same as SIGHUP)")


@dataclass(frozen=True)
class FeedbackConfig:
    """LEDs and a buzzer that show results; each pin is optional. Uncertain results light nothing."""

    blink_pin: Optional[Pin] = setting(None, checks.pin, "LED blinked once on every result", example="27")
    blink_s: float = setting(0.2, checks.number(0.01, 10), "how long that blink lasts")
    positive_pin: Optional[Pin] = setting(None, checks.pin, "binary models only: LED on while the latest result is "
                                                            "the positive label", example="22")
    buzzer_pin: Optional[Pin] = setting(None, checks.pin, "buzzer beeped on results whose label is in "
                                                          "buzzer_labels", example="23")
    buzzer_labels: tuple[str, ...] = setting((), checks.labels, "labels that beep; empty beeps on every result")
    beep_s: float = setting(0.1, checks.number(0.01, 10), "how long a beep lasts")
    label_pins: Mapping[str, Pin] = setting({}, checks.label_pins, "one LED per label, on while it is the latest "
                                                                   "label, e.g. { cat = 5, dog = 6 }")


@dataclass(frozen=True)
class ResultsConfig:
    """The JSON-lines results log (README: "The result schema") and its size-based rotation."""

    path: Optional[Path] = setting(Path("/var/lib/piclassify/results/results.jsonl"), checks.path,
                                   "one JSON line per result, fsynced")  # None (`piclassify run`): no log
    max_bytes: int = setting(10 * 1024 * 1024, checks.integer(1024, 1024 ** 3),
                             "rotate before the file grows past this (10 MiB; at most 1 GiB)")
    keep: int = setting(5, checks.integer(0, 1000), "rotated files kept: results.jsonl.1 (newest) ... results.jsonl.5")
    nothing: bool = setting(False, checks.boolean, "true: also log frames with nothing in view (label null, a reason)")
    raw: bool = setting(False, checks.boolean, "true: also log each region's raw answers, those that are not (yet) "
                                               "its steady state\n(marked \"raw\": true)")


@dataclass(frozen=True)
class FramesConfig:
    """Which classified frames are kept as JPEG, where, and how many at most."""

    save: str = setting("none", checks.choice("none", "all", "uncertain"),
                        "JPEG of each result: \"none\", \"all\", or \"uncertain\" (scoring below min_score)")
    path: Path = setting(Path("/var/lib/piclassify/frames"), checks.path, "a folder of its own: only files the "
                                                                          "service wrote here are ever deleted")
    max_count: int = setting(1000, checks.integer(1, 1_000_000), "oldest saved frames are deleted beyond this many")
    jpeg_quality: int = setting(90, checks.integer(1, 95), "1-95")


@dataclass(frozen=True)
class MqttConfig:
    """Results on an MQTT broker, with Home Assistant discovery; off while host is unset (needs piclassify[mqtt])."""

    host: Optional[str] = setting(None, checks.string, "the broker's host name or address; unset: no MQTT",
                                  example="\"broker.local\"")
    port: Optional[int] = setting(None, checks.integer(1, 65535), "default 1883, or 8883 with TLS", example="1883")
    tls: bool = setting(False, checks.boolean, "true: TLS with the system's CA certificates (on by itself with "
                                               "ca_file)")
    ca_file: Optional[Path] = setting(None, checks.path, "CA certificate(s) to check the broker with (PEM); turns "
                                                         "TLS on", example="\"/etc/piclassify/mqtt-ca.pem\"")
    cert_file: Optional[Path] = setting(None, checks.path, "client certificate (PEM), if the broker wants one",
                                        example="\"/etc/piclassify/mqtt-client.pem\"")
    key_file: Optional[Path] = setting(None, checks.path, "its private key, unless cert_file holds it",
                                       example="\"/etc/piclassify/mqtt-client.key\"")
    username: Optional[str] = setting(None, checks.string, "user name on the broker", example="\"kitchen-pi\"")
    password_file: Optional[Path] = setting(None, checks.path, "a file holding only the password, readable by the "
                                                               "service (0640 root:piclassify)",
                                            example="\"/etc/piclassify/mqtt-password\"")
    client_id: Optional[str] = setting(None, checks.client_id, "MQTT client id and this Pi's name in topics and "
                                                               "Home Assistant; default: the host name",
                                       example="\"kitchen\"")
    topic_prefix: Optional[str] = setting(None, checks.topic, "topics are <prefix>/result, /state, /availability, "
                                                              "/stats, /trigger;\ndefault: piclassify/<client_id>",
                                          example="\"piclassify/kitchen\"")
    qos: int = setting(1, checks.integer(0, 2), "0, 1 (at least once) or 2")
    keepalive: int = setting(60, checks.integer(5, 3600), "seconds between pings; the broker declares the Pi offline "
                                                          "after 1.5 times this")
    queue_size: int = setting(1000, checks.integer(1, 1_000_000), "results kept while the broker is away; beyond this "
                                                                  "the oldest are dropped (and counted)")
    stats_every_s: float = setting(10.0, checks.number(1, 3600), "how often frames/s and counters go to <prefix>/stats")
    homeassistant: bool = setting(True, checks.boolean, "publish Home Assistant MQTT discovery: a label sensor, an fps "
                                                        "sensor,\nand in trigger mode a button that captures a frame")
    discovery_prefix: str = setting("homeassistant", checks.topic, "Home Assistant's discovery prefix")

    def name(self) -> str:
        """The client id: as configured, else this machine's host name (made a valid topic level)."""
        if self.client_id is not None:
            return self.client_id
        return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64] or "piclassify"

    def prefix(self) -> str:
        return self.topic_prefix if self.topic_prefix is not None else f"piclassify/{self.name()}"

    def uses_tls(self) -> bool:
        return self.tls or self.ca_file is not None

    def broker_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.uses_tls() else 1883

    def broker(self) -> str:
        """``host:port``, the broker's name in every log line."""
        return f"{self.host}:{self.broker_port()}"


@dataclass(frozen=True)
class WebConfig:
    """The web view: live stream, results, status, /metrics, /healthz. Off by default; see README, "Web view"."""

    enabled: bool = setting(False, checks.boolean, "true: serve the web view")
    host: str = setting(LOOPBACK, checks.address, "address to listen on: 127.0.0.1 is this Pi only (reach it "
                                                  "through `ssh -L`);\n\"0.0.0.0\" or \"::\" every network, and "
                                                  "needs token_file")
    port: int = setting(8080, checks.integer(1, 65535), "TCP port")
    token_file: Optional[Path] = setting(None, checks.path, "a file holding the access token (`piclassify "
                                                            "web-token --out FILE`, mode 0600);\nrequired unless "
                                                            "host is a loopback address",
                                         example="\"/etc/piclassify/web-token\"")
    max_streams: int = setting(4, checks.integer(1, 64), "live streams served at once (and as many event streams); "
                                                         "more get 503")
    stream_fps: float = setting(5.0, checks.number(0.1, 30), "most frames per second sent to each live stream")


@dataclass(frozen=True)
class TeachConfig:
    """The web view's teach panel (on while [web] is): examples captured into classes, models fitted on the Pi."""

    examples: Path = setting(Path("/var/lib/piclassify/examples"), checks.path, "examples kept to fit from, a folder "
                                                                                "per class (at most 16 x 500)")
    models: Path = setting(Path("/var/lib/piclassify/models"), checks.path, "where models taught here are written")
    buttons: Mapping[str, Pin] = setting({}, checks.class_pins, "a push button per class: a press keeps the newest "
                                                                "frame as an example of it,\ne.g. { mug = 17, keys "
                                                                "= 27 }")


@dataclass(frozen=True)
class RegionConfig:
    """A region of the frame to watch ([[region]], as many as you like): cropped, read by its model, its state
    steady, classified again only when its pixels change. See docs/regions.md."""

    name: Optional[str] = setting(None, checks.region_name, "required: the region's name, in every result, topic "
                                                            "and entity", example="\"garage-door\"")
    x: Optional[float] = setting(None, checks.number(0, 1), "required: left edge, a fraction of the frame's width",
                                 example="0.55")
    y: Optional[float] = setting(None, checks.number(0, 1), "required: top edge, a fraction of its height",
                                 example="0.1")
    w: Optional[float] = setting(None, checks.number(0, 1), "required: width, a fraction of the frame's width",
                                 example="0.4")
    h: Optional[float] = setting(None, checks.number(0, 1), "required: height, a fraction of its height",
                                 example="0.6")
    model: Optional[str] = setting(None, checks.string, "the region's model; default: the config's model; regions "
                                                        "naming one model share it", example="\"garage\"")
    min_score: Optional[float] = setting(None, checks.number(0, 1), "answers scoring below this are uncertain and "
                                                                    "change nothing; default: the config's min_score",
                                         example="0.8")
    agree: int = setting(DEFAULT_AGREE, checks.integer(1, 100), "answers in a row that must agree before the "
                                                                "region's state changes")
    recheck_s: float = setting(DEFAULT_RECHECK_S, checks.number(0, 86400), "an unchanged region is classified again "
                                                                           "after this many seconds (0: every frame)")
    change: float = setting(DEFAULT_CHANGE, checks.number(0, 255), "classify again when the region's 32x32 grey copy "
                                                                   "differs by more than this\n(mean absolute "
                                                                   "difference, 0-255) from the last one classified")
    on: Optional[str] = setting(None, checks.string, "a two-state model: the state that is \"on\" (Home Assistant's "
                                                     "binary_sensor)", example="\"open\"")

    def region(self, min_score: float) -> Region:
        """The region the loop watches; ``min_score`` is the config's, for a region without its own."""
        assert self.name is not None and None not in (self.x, self.y, self.w, self.h), "checked when read"
        return Region(self.name, Box(self.x or 0.0, self.y or 0.0, self.w or 0.0, self.h or 0.0), self.model,
                      self.min_score if self.min_score is not None else min_score, self.agree, self.recheck_s,
                      self.change, self.on)


REQUIRED_REGION_KEYS = ("name", "x", "y", "w", "h")


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``piclassify service`` reads from its config file; the defaults are a working setup.

    ``piclassify run`` builds one from its flags: no results log (``results.path`` None), perhaps the web view.
    """

    model: str = setting(DEFAULT_MODEL, checks.string, "a bundled model name (`piclassify models`) or a .tflite path "
                                                  "with its .json beside it")
    source: str = setting("auto", checks.string, "\"auto\" (Pi camera, else first USB camera), \"picamera2\", "
                                                 "\"usb:0\", \"/dev/video0\",\na video file, or images: a file, "
                                                 "a folder or a glob")
    size: tuple[int, int] = setting((640, 480), checks.size, "camera frame size [width, height]")
    threads: int = setting(0, checks.integer(0, 64), "interpreter threads; 0: the usable cores, at most 4")
    mode: str = setting("continuous", checks.choice(*MODES), "\"continuous\": classify frames as they come; "
                                                             "\"trigger\": one frame per button press")
    interval_s: float = setting(0.0, checks.number(0, 86400), "continuous mode: seconds between classifications; "
                                                              "0 classifies every frame")
    min_score: float = setting(0.0, checks.number(0, 1), "results scoring below this are uncertain: no LED, "
                                                         "no beep (still in the results log)")
    on_change: bool = setting(False, checks.boolean, "true: report a result only when its label differs from the "
                                                     "last one")
    log_level: str = setting("info", checks.choice("debug", "info", "warning", "error"),
                             "\"debug\" (every result), \"info\", \"warning\" or \"error\"")
    button: ButtonConfig = section(ButtonConfig)
    feedback: FeedbackConfig = section(FeedbackConfig)
    results: ResultsConfig = section(ResultsConfig)
    frames: FramesConfig = section(FramesConfig)
    mqtt: MqttConfig = section(MqttConfig)
    web: WebConfig = section(WebConfig)
    teach: TeachConfig = section(TeachConfig)
    regions: tuple[RegionConfig, ...] = field(default=(), metadata={"array": RegionConfig, "key": "region"})

    def loop_settings(self) -> LoopSettings:
        return LoopSettings(mode=self.mode, interval_s=self.interval_s, min_score=self.min_score,
                            on_change=self.on_change)

    def watched_regions(self) -> tuple[Region, ...]:
        """The ``[[region]]`` tables as the loop watches them (none: the whole frame is classified)."""
        return tuple(config.region(self.min_score) for config in self.regions)

    def uses_network(self) -> bool:
        """The web view or MQTT is on: the service may then use IP (``install-service`` adds a unit drop-in)."""
        return self.web.enabled or self.mqtt.host is not None

    def pins(self) -> dict[str, Pin]:
        """Every configured GPIO pin by the key that sets it."""
        named: dict[str, Optional[Pin]] = {
            "button.pin": self.button.pin,
            "feedback.blink_pin": self.feedback.blink_pin,
            "feedback.positive_pin": self.feedback.positive_pin,
            "feedback.buzzer_pin": self.feedback.buzzer_pin,
        }
        named.update({f"feedback.label_pins.{label}": pin for label, pin in self.feedback.label_pins.items()})
        named.update({f"teach.buttons.{name}": pin for name, pin in self.teach.buttons.items()})
        return {key: pin for key, pin in named.items() if pin is not None}


def keys(cls: type) -> dict[str, Field]:
    """The keys a section (or the top level, ``ServiceConfig``) reads, by name."""
    return {f.name: f for f in fields(cls) if "check" in f.metadata}


def sections() -> dict[str, type]:
    """The ``[section]`` tables and the class of each."""
    return {f.name: f.metadata["section"] for f in fields(ServiceConfig) if "section" in f.metadata}
