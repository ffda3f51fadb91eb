"""The service's TOML config, declared once: each key's type, default, bounds and help live in its field.

The checks, the defaults and the example file ``systemd/piclassify.toml`` (``example_config()``;
``piclassify service --example-config`` prints it) all follow from the dataclass fields below.
The Pi has no screen, so a typo must stop the service at start-up (and show in ``journalctl``)
rather than run with a setting silently ignored: every mistake is a one-line error naming the key.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import socket
import sys
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from piclassify.device.teach.examples import CLASS_NAME
from piclassify.device.core.loop import MODES, LoopSettings
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.folder_layout import SPLITS
from piclassify.shared.files.regular_file import open_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the Pi's Python 3.9
    import tomli as tomllib

Pin = Union[int, str]
Check = Callable[[Any], Any]


class ConfigError(PiclassifyError):
    """The service config is missing, not TOML, or has an unknown key or a bad value."""


class _Invalid(ValueError):
    """A value check failed; the message completes "<key> must be ..."."""


# -- the checks: each returns the value as the dataclass holds it, or raises _Invalid ---------------

def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid("a non-empty string")
    return value


def _choice(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Invalid("one of " + ", ".join(repr(choice) for choice in choices))
        return value
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _number(minimum: float, maximum: float) -> Check:
    """A finite number in [minimum, maximum]; NaN and infinity never pass."""
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not minimum <= value <= maximum:
            raise _Invalid(f"a number from {minimum:g} to {maximum:g}")
        return float(value)
    return check


def _integer(minimum: int, maximum: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise _Invalid(f"an integer from {minimum} to {maximum}")
        return value
    return check


def _pin(value: Any) -> Pin:
    """A BCM number (17) or any pin name gpiozero accepts ("GPIO17", "BOARD11")."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "" \
            or (isinstance(value, int) and value < 0):
        raise _Invalid("a GPIO number such as 17 or a pin name such as \"GPIO17\"")
    return value


def _size(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 8192 for v in value):
        raise _Invalid("[width, height] in pixels")
    return (value[0], value[1])


def _labels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of labels")
    return tuple(value)


def _class_pins(value: Any) -> dict[str, Pin]:
    pins = _label_pins(value)
    for name in pins:
        if not CLASS_NAME.fullmatch(name) or name.lower() in SPLITS:
            raise _Invalid(f"a table of class = pin, each class 1-32 letters, digits, '-' or '_' (not {name!r})")
    return pins


def _label_pins(value: Any) -> dict[str, Pin]:
    if not isinstance(value, dict):
        raise _Invalid("a table of label = pin")
    try:
        return {label: _pin(pin) for label, pin in value.items()}
    except _Invalid:
        raise _Invalid("a table of label = GPIO number or pin name") from None


def _path(value: Any) -> Path:
    return Path(_string(value))


def _client_id(value: Any) -> str:
    """An MQTT client id that is also a topic level and a Home Assistant node id."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise _Invalid("1 to 64 letters, digits, '-' or '_'")
    return value


def _topic(value: Any) -> str:
    """A topic prefix to publish under: no wildcards, no empty level, no leading or trailing '/'."""
    if not isinstance(value, str) or not value or any(c in value for c in "+#\0") \
            or "" in value.split("/"):
        raise _Invalid("a topic such as \"piclassify/kitchen\" (no '+', '#', no leading, trailing or double '/')")
    return value


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost`` (an address or a ``Host`` header's name): this machine alone."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    """The web view's one access rule: served on any address but loopback, it reaches other machines, so it needs
    a token. The [web] section, ``piclassify run --web`` and the web server itself all ask it here."""
    return not is_loopback(host)


def _address(value: Any) -> str:
    """An IP address to listen on (not a host name, so whether it is loopback is certain)."""
    try:
        ipaddress.ip_address(_string(value))
    except (_Invalid, ValueError):
        raise _Invalid("an IP address such as \"127.0.0.1\", \"0.0.0.0\" or \"::\"") from None
    return value


def setting(default: Any, check: Check, help: str, example: Optional[str] = None) -> Any:
    """One config key: its default, the check of its type and bounds, and its line in the example config.

    ``example`` is shown, commented out, for keys that are unset by default.
    """
    metadata = {"check": check, "help": help, "example": example}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


# -- the keys ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ButtonConfig:
    """A push button: a short press captures one frame in trigger mode; a long press does on_hold."""

    pin: Optional[Pin] = setting(None, _pin, "BCM number or gpiozero pin name (\"GPIO17\", \"BOARD11\"); "
                                             "required in trigger mode", example="17")
    pull_up: bool = setting(True, _boolean, "true: button wired between the pin and ground; false: to 3.3 V")
    bounce_s: float = setting(0.05, _number(0, 1), "contact bounce shorter than this is ignored "
                                                   "(gpiozero bounce_time); 0 turns it off")
    hold_s: float = setting(2.0, _number(0.1, 60), "a press held this long is a long press (gpiozero hold_time) "
                                                   "and captures nothing")
    on_hold: str = setting("nothing", _choice("nothing", "reload"), "long press: \"nothing\" or \"reload\" "
                                                                   "(same as SIGHUP)")


@dataclass(frozen=True)
class FeedbackConfig:
    """LEDs and a buzzer that show results; each pin is optional. Uncertain results light nothing."""

    blink_pin: Optional[Pin] = setting(None, _pin, "LED blinked once on every result", example="27")
    blink_s: float = setting(0.2, _number(0.01, 10), "how long that blink lasts")
    positive_pin: Optional[Pin] = setting(None, _pin, "binary models only: LED on while the latest result is "
                                                      "the positive label", example="22")
    buzzer_pin: Optional[Pin] = setting(None, _pin, "buzzer beeped on results whose label is in buzzer_labels",
                                        example="23")
    buzzer_labels: tuple[str, ...] = setting((), _labels, "labels that beep; empty beeps on every result")
    beep_s: float = setting(0.1, _number(0.01, 10), "how long a beep lasts")
    label_pins: Mapping[str, Pin] = setting({}, _label_pins, "one LED per label, on while it is the latest "
                                                             "label, e.g. { cat = 5, dog = 6 }")


@dataclass(frozen=True)
class ResultsConfig:
    """The JSON-lines results log (README: "The result schema") and its size-based rotation."""

    path: Path = setting(Path("/var/lib/piclassify/results/results.jsonl"), _path,
                         "one JSON line per result, fsynced")
    max_bytes: int = setting(10 * 1024 * 1024, _integer(1024, 1024 ** 3),
                             "rotate before the file grows past this (10 MiB; at most 1 GiB)")
    keep: int = setting(5, _integer(0, 1000), "rotated files kept: results.jsonl.1 (newest) ... results.jsonl.5")
    nothing: bool = setting(False, _boolean, "true: also log frames with nothing in view (label null, a reason)")


@dataclass(frozen=True)
class FramesConfig:
    """Which classified frames are kept as JPEG, where, and how many at most."""

    save: str = setting("none", _choice("none", "all", "uncertain"),
                        "JPEG of each result: \"none\", \"all\", or \"uncertain\" (scoring below min_score)")
    path: Path = setting(Path("/var/lib/piclassify/frames"), _path, "a folder of its own: only files the "
                                                                    "service wrote here are ever deleted")
    max_count: int = setting(1000, _integer(1, 1_000_000), "oldest saved frames are deleted beyond this many")
    jpeg_quality: int = setting(90, _integer(1, 95), "1-95")


@dataclass(frozen=True)
class MqttConfig:
    """Results on an MQTT broker, with Home Assistant discovery; off while host is unset (needs piclassify[mqtt])."""

    host: Optional[str] = setting(None, _string, "the broker's host name or address; unset: no MQTT",
                                  example="\"broker.local\"")
    port: Optional[int] = setting(None, _integer(1, 65535), "default 1883, or 8883 with TLS", example="1883")
    tls: bool = setting(False, _boolean, "true: TLS with the system's CA certificates (on by itself with ca_file)")
    ca_file: Optional[Path] = setting(None, _path, "CA certificate(s) to check the broker with (PEM); turns TLS on",
                                      example="\"/etc/piclassify/mqtt-ca.pem\"")
    cert_file: Optional[Path] = setting(None, _path, "client certificate (PEM), if the broker wants one",
                                        example="\"/etc/piclassify/mqtt-client.pem\"")
    key_file: Optional[Path] = setting(None, _path, "its private key, unless cert_file holds it",
                                       example="\"/etc/piclassify/mqtt-client.key\"")
    username: Optional[str] = setting(None, _string, "user name on the broker", example="\"kitchen-pi\"")
    password_file: Optional[Path] = setting(None, _path, "a file holding only the password, readable by the "
                                                         "service (0640 root:piclassify)",
                                            example="\"/etc/piclassify/mqtt-password\"")
    client_id: Optional[str] = setting(None, _client_id, "MQTT client id and this Pi's name in topics and Home "
                                                         "Assistant; default: the host name", example="\"kitchen\"")
    topic_prefix: Optional[str] = setting(None, _topic, "topics are <prefix>/result, /state, /availability, /stats, "
                                                        "/trigger;\ndefault: piclassify/<client_id>",
                                          example="\"piclassify/kitchen\"")
    qos: int = setting(1, _integer(0, 2), "0, 1 (at least once) or 2")
    keepalive: int = setting(60, _integer(5, 3600), "seconds between pings; the broker declares the Pi offline "
                                                    "after 1.5 times this")
    queue_size: int = setting(1000, _integer(1, 1_000_000), "results kept while the broker is away; beyond this "
                                                            "the oldest are dropped (and counted)")
    stats_every_s: float = setting(10.0, _number(1, 3600), "how often frames/s and counters go to <prefix>/stats")
    homeassistant: bool = setting(True, _boolean, "publish Home Assistant MQTT discovery: a label sensor, an fps "
                                                  "sensor,\nand in trigger mode a button that captures a frame")
    discovery_prefix: str = setting("homeassistant", _topic, "Home Assistant's discovery prefix")

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

    enabled: bool = setting(False, _boolean, "true: serve the web view")
    host: str = setting("127.0.0.1", _address, "address to listen on: 127.0.0.1 is this Pi only (reach it through "
                                               "`ssh -L`);\n\"0.0.0.0\" or \"::\" every network, and needs "
                                               "token_file")
    port: int = setting(8080, _integer(1, 65535), "TCP port")
    token_file: Optional[Path] = setting(None, _path, "a file holding the access token (`piclassify web-token --out "
                                                      "FILE`, mode 0600);\nrequired unless host is a loopback "
                                                      "address", example="\"/etc/piclassify/web-token\"")
    max_streams: int = setting(4, _integer(1, 64), "live streams served at once (and as many event streams); "
                                                   "more get 503")
    stream_fps: float = setting(5.0, _number(0.1, 30), "most frames per second sent to each live stream")


@dataclass(frozen=True)
class TeachConfig:
    """The web view's teach panel (on while [web] is): examples captured into classes, models fitted on the Pi."""

    examples: Path = setting(Path("/var/lib/piclassify/examples"), _path, "examples kept to fit from, a folder "
                                                                          "per class (at most 16 x 500)")
    models: Path = setting(Path("/var/lib/piclassify/models"), _path, "where models taught here are written")
    buttons: Mapping[str, Pin] = setting({}, _class_pins, "a push button per class: a press keeps the newest frame "
                                                          "as an example of it,\ne.g. { mug = 17, keys = 27 }")


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``piclassify service`` reads from its config file; the defaults are a working setup."""

    model: str = setting("digits", _string, "a bundled model name (`piclassify models`) or a .tflite path "
                                            "with its .json beside it")
    source: str = setting("auto", _string, "\"auto\" (Pi camera, else first USB camera), \"picamera2\", "
                                           "\"usb:0\", \"/dev/video0\",\na video file, or images: a file, "
                                           "a folder or a glob")
    size: tuple[int, int] = setting((640, 480), _size, "camera frame size [width, height]")
    threads: int = setting(0, _integer(0, 64), "interpreter threads; 0: the usable cores, at most 4")
    mode: str = setting("continuous", _choice(*MODES), "\"continuous\": classify frames as they come; "
                                                       "\"trigger\": one frame per button press")
    interval_s: float = setting(0.0, _number(0, 86400), "continuous mode: seconds between classifications; "
                                                        "0 classifies every frame")
    min_score: float = setting(0.0, _number(0, 1), "results scoring below this are uncertain: no LED, "
                                                   "no beep (still in the results log)")
    on_change: bool = setting(False, _boolean, "true: report a result only when its label differs from the "
                                               "last one")
    log_level: str = setting("info", _choice("debug", "info", "warning", "error"),
                             "\"debug\" (every result), \"info\", \"warning\" or \"error\"")
    button: ButtonConfig = field(default_factory=ButtonConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    results: ResultsConfig = field(default_factory=ResultsConfig)
    frames: FramesConfig = field(default_factory=FramesConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    web: WebConfig = field(default_factory=WebConfig)
    teach: TeachConfig = field(default_factory=TeachConfig)

    def loop_settings(self) -> LoopSettings:
        return LoopSettings(mode=self.mode, interval_s=self.interval_s, min_score=self.min_score,
                            on_change=self.on_change)

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


def _keys(cls: type) -> dict[str, Field]:
    return {f.name: f for f in fields(cls) if "check" in f.metadata}


def _sections() -> dict[str, type]:
    return {f.name: f.default_factory for f in fields(ServiceConfig) if "check" not in f.metadata}  # type: ignore


# -- reading -------------------------------------------------------------------------------------

def load_config(path: Union[str, Path]) -> ServiceConfig:
    """Read and check ``path``; ``ConfigError`` names the file and the offending key."""
    path = Path(path)
    try:
        with open_regular(path) as handle:  # a FIFO or a device named by mistake must not hang a reload
            table = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    return parse_config(table, str(path))


def parse_config(table: Mapping[str, Any], where: str = "config") -> ServiceConfig:
    """Build a ``ServiceConfig`` from parsed TOML; ``where`` prefixes every error message."""
    sections = _sections()
    values = _read(table, "", where, _keys(ServiceConfig), skip=tuple(sections))
    for name, cls in sections.items():
        section = table.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {name} must be a table ([{name}])")
        values[name] = cls(**_read(section, f"{name}.", where, _keys(cls)))
    config = ServiceConfig(**values)
    _check_consistent(config, where)
    return config


def check_against_model(config: ServiceConfig, task: str, labels: tuple[str, ...], model_name: str,
                        where: str = "config") -> None:
    """Settings that only make sense for some models: labels must exist, a positive pin needs a binary model."""
    known = ", ".join(labels)
    for key, configured in (("feedback.label_pins", config.feedback.label_pins),
                            ("feedback.buzzer_labels", config.feedback.buzzer_labels)):
        for label in configured:
            if label not in labels:
                raise ConfigError(f"{where}: {key}: {label!r} is not a label of model {model_name} ({known})")
    if config.feedback.positive_pin is not None and task != "binary":
        raise ConfigError(f"{where}: feedback.positive_pin needs a binary model; {model_name} is {task}")


def _read(table: Mapping[str, Any], prefix: str, where: str, keys: Mapping[str, Field],
          skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Checked values of the keys present in ``table``; absent keys keep the dataclass default."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in keys:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'")
        try:
            values[key] = keys[key].metadata["check"](value)
        except _Invalid as error:
            raise ConfigError(f"{where}: {prefix}{key} must be {error}, got {value!r}") from None
    return values


def _check_consistent(config: ServiceConfig, where: str) -> None:
    if config.mode == "trigger" and config.button.pin is None and config.mqtt.host is None \
            and not config.web.enabled:
        raise ConfigError(f"{where}: button.pin is required when mode = \"trigger\" (or an [mqtt] host: "
                          "a message on its trigger topic captures a frame; or [web] enabled: its button does)")
    web = config.web
    if web.enabled and web.token_file is None and needs_token(web.host):
        raise ConfigError(f"{where}: web.token_file is required when web.host = {web.host!r} is not a loopback "
                          "address (make one with `piclassify web-token --out FILE`)")
    mqtt = config.mqtt
    for key, value, needs, needed in (("password_file", mqtt.password_file, "username", mqtt.username),
                                      ("key_file", mqtt.key_file, "cert_file", mqtt.cert_file)):
        if value is not None and needed is None:
            raise ConfigError(f"{where}: mqtt.{key} needs mqtt.{needs}")
    if mqtt.cert_file is not None and not mqtt.uses_tls():
        raise ConfigError(f"{where}: mqtt.cert_file needs TLS: set mqtt.ca_file or mqtt.tls = true")
    seen: dict[str, str] = {}
    for key, pin in config.pins().items():
        name = f"GPIO{pin}" if isinstance(pin, int) else pin.upper()  # 17 and "GPIO17" are one pin
        if name in seen:
            raise ConfigError(f"{where}: {key} uses pin {pin!r}, already used by {seen[name]}")
        seen[name] = key


# -- the example file ----------------------------------------------------------------------------

EXAMPLE_HEADER = """\
# piclassify service config (piclassify service --config /etc/piclassify/piclassify.toml).
# Every key is optional: each line below shows its default. Commented-out keys are unset by default.
# An unknown key or a bad value stops the service at start-up with one line naming the key
# (see `journalctl -u piclassify`). `systemctl reload piclassify` (SIGHUP) re-reads this file and the model.
# Made by `piclassify service --example-config`, from the declarations in device/config.py.
"""
_COMMENT_AT = 28


def example_config() -> str:
    """The documented example config: every key with its default (or a commented example) and its help."""
    lines = [EXAMPLE_HEADER]
    lines += [_example_line(f) for f in _keys(ServiceConfig).values()]
    for name, cls in _sections().items():
        lines += ["", f"[{name}]", f"# {cls.__doc__}"]
        lines += [_example_line(f) for f in _keys(cls).values()]
    return "\n".join(lines) + "\n"


def _example_line(key: Field) -> str:
    default = key.default_factory() if key.default is MISSING else key.default  # type: ignore[misc]
    if default is None:
        assignment = f"# {key.name} = {key.metadata['example']}"
    else:
        assignment = f"{key.name} = {_toml(default)}"
    help_lines = key.metadata["help"].split("\n")
    width = max(_COMMENT_AT, len(assignment) + 3)
    out = [f"{assignment:<{width}}# {help_lines[0]}"]
    out += [f"{'':<{width}}# {line}" for line in help_lines[1:]]
    return "\n".join(out)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML form for {value!r}")
