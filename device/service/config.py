"""The service's TOML config: every key optional, every mistake a one-line error naming the key.

The Pi has no screen, so a typo must stop the service at start-up (and show in ``journalctl``)
rather than run with a setting silently ignored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from piclassify.shared.errors import PiclassifyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the Pi's Python 3.9
    import tomli as tomllib

Pin = Union[int, str]
MODES = ("continuous", "trigger")
LOG_LEVELS = ("debug", "info", "warning", "error")
HOLD_ACTIONS = ("nothing", "reload")
SAVE_POLICIES = ("none", "all", "below")


class ConfigError(PiclassifyError):
    """The service config is missing, not TOML, or has an unknown key or a bad value."""


@dataclass(frozen=True)
class ButtonConfig:
    """A push button: a short press captures one frame in trigger mode; a long press does ``on_hold``."""

    pin: Optional[Pin] = None
    pull_up: bool = True
    bounce_s: float = 0.05
    hold_s: float = 2.0
    on_hold: str = "nothing"


@dataclass(frozen=True)
class FeedbackConfig:
    """LEDs and a buzzer that show results; each pin is optional."""

    min_score: float = 0.0
    blink_pin: Optional[Pin] = None
    blink_s: float = 0.2
    positive_pin: Optional[Pin] = None
    buzzer_pin: Optional[Pin] = None
    buzzer_labels: tuple[str, ...] = ()
    beep_s: float = 0.1
    label_pins: Mapping[str, Pin] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultsConfig:
    """The JSON-lines result log and its size-based rotation."""

    path: Path = Path("/var/lib/piclassify/results/results.jsonl")
    max_bytes: int = 10 * 1024 * 1024
    keep: int = 5


@dataclass(frozen=True)
class FramesConfig:
    """Which classified frames are kept as JPEG, where, and how many at most."""

    save: str = "none"
    below_score: float = 0.6
    path: Path = Path("/var/lib/piclassify/frames")
    max_count: int = 1000
    jpeg_quality: int = 90


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``piclassify service`` reads from its config file; the defaults are a working setup."""

    model: str = "digits"
    source: str = "auto"
    size: tuple[int, int] = (640, 480)
    threads: int = 0
    mode: str = "continuous"
    interval_s: float = 0.0
    log_level: str = "info"
    button: ButtonConfig = ButtonConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    results: ResultsConfig = ResultsConfig()
    frames: FramesConfig = FramesConfig()

    def pins(self) -> dict[str, Pin]:
        """Every configured GPIO pin by the key that sets it."""
        named: dict[str, Optional[Pin]] = {
            "button.pin": self.button.pin,
            "feedback.blink_pin": self.feedback.blink_pin,
            "feedback.positive_pin": self.feedback.positive_pin,
            "feedback.buzzer_pin": self.feedback.buzzer_pin,
        }
        named.update({f"feedback.label_pins.{label}": pin for label, pin in self.feedback.label_pins.items()})
        return {key: pin for key, pin in named.items() if pin is not None}


class _Invalid(ValueError):
    """A value check failed; the message completes "<key> must be ..."."""


Check = Callable[[Any], Any]


def load_config(path: Union[str, Path]) -> ServiceConfig:
    """Read and check ``path``; ``ConfigError`` names the file and the offending key."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return parse_config(table, str(path))


def parse_config(table: Mapping[str, Any], where: str = "config") -> ServiceConfig:
    """Build a ``ServiceConfig`` from parsed TOML; ``where`` prefixes every error message."""
    values = _read(table, "", where, _TOP_CHECKS, sections=tuple(_SECTIONS))
    for name, cls in _SECTIONS.items():
        section = table.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {name} must be a table ([{name}])")
        values[name] = cls(**_read(section, f"{name}.", where, _SECTION_CHECKS[name]))
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


def _read(table: Mapping[str, Any], prefix: str, where: str, checks: Mapping[str, Check],
          sections: tuple[str, ...] = ()) -> dict[str, Any]:
    """Checked values of the keys present in ``table``; absent keys keep the dataclass default."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in sections:
            continue
        if key not in checks:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'")
        try:
            values[key] = checks[key](value)
        except _Invalid as error:
            raise ConfigError(f"{where}: {prefix}{key} must be {error}, got {value!r}") from None
    return values


def _check_consistent(config: ServiceConfig, where: str) -> None:
    if config.mode == "trigger" and config.button.pin is None:
        raise ConfigError(f"{where}: button.pin is required when mode = \"trigger\"")
    seen: dict[str, str] = {}
    for key, pin in config.pins().items():
        name = _pin_name(pin)
        if name in seen:
            raise ConfigError(f"{where}: {key} uses pin {pin!r}, already used by {seen[name]}")
        seen[name] = key


def _pin_name(pin: Pin) -> str:
    """``17`` and ``"GPIO17"`` are the same pin to gpiozero; compare them as one name."""
    return f"GPIO{pin}" if isinstance(pin, int) else pin.upper()


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


def _number(minimum: float, maximum: Optional[float] = None) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum \
                or (maximum is not None and value > maximum):
            raise _Invalid(f"a number >= {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else ""))
        return float(value)
    return check


def _integer(minimum: int, maximum: Optional[int] = None) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            raise _Invalid(f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else ""))
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
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise _Invalid("[width, height] in pixels")
    return (value[0], value[1])


def _labels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of labels")
    return tuple(value)


def _label_pins(value: Any) -> dict[str, Pin]:
    if not isinstance(value, dict):
        raise _Invalid("a table of label = pin")
    try:
        return {label: _pin(pin) for label, pin in value.items()}
    except _Invalid:
        raise _Invalid("a table of label = GPIO number or pin name") from None


def _path(value: Any) -> Path:
    return Path(_string(value))


_SECTIONS = {"button": ButtonConfig, "feedback": FeedbackConfig, "results": ResultsConfig, "frames": FramesConfig}

_TOP_CHECKS: dict[str, Check] = {
    "model": _string,
    "source": _string,
    "size": _size,
    "threads": _integer(0, 64),
    "mode": _choice(*MODES),
    "interval_s": _number(0),
    "log_level": _choice(*LOG_LEVELS),
}

_SECTION_CHECKS: dict[str, dict[str, Check]] = {
    "button": {
        "pin": _pin,
        "pull_up": _boolean,
        "bounce_s": _number(0, 1),
        "hold_s": _number(0.1, 60),
        "on_hold": _choice(*HOLD_ACTIONS),
    },
    "feedback": {
        "min_score": _number(0, 1),
        "blink_pin": _pin,
        "blink_s": _number(0.01, 10),
        "positive_pin": _pin,
        "buzzer_pin": _pin,
        "buzzer_labels": _labels,
        "beep_s": _number(0.01, 10),
        "label_pins": _label_pins,
    },
    "results": {
        "path": _path,
        "max_bytes": _integer(1024),
        "keep": _integer(0, 1000),
    },
    "frames": {
        "save": _choice(*SAVE_POLICIES),
        "below_score": _number(0, 1),
        "path": _path,
        "max_count": _integer(1),
        "jpeg_quality": _integer(1, 95),
    },
}
