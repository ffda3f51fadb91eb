"""The checks of the config's values: each returns the value as its dataclass field holds it, or raises ``Invalid``.

``setting`` ties a check to a key's default, help and example (``sections``); a failed check's
message completes "<key> must be ...", so that every mistake is one line naming the key.
"""

from __future__ import annotations

import ipaddress
import math
import re
from pathlib import Path
from typing import Any, Callable, Union

from piclassify.device.teach.examples import CLASS_NAME
from piclassify.shared.files.folder_layout import SPLITS

Pin = Union[int, str]
Check = Callable[[Any], Any]


class Invalid(ValueError):
    """A value check failed; the message completes "<key> must be ..."."""


def string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("a non-empty string")
    return value


def choice(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise Invalid("one of " + ", ".join(repr(choice) for choice in choices))
        return value
    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def number(minimum: float, maximum: float) -> Check:
    """A finite number in [minimum, maximum]; NaN and infinity never pass."""
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not minimum <= value <= maximum:
            raise Invalid(f"a number from {minimum:g} to {maximum:g}")
        return float(value)
    return check


def integer(minimum: int, maximum: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise Invalid(f"an integer from {minimum} to {maximum}")
        return value
    return check


def pin(value: Any) -> Pin:
    """A BCM number (17) or any pin name gpiozero accepts ("GPIO17", "BOARD11")."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "" \
            or (isinstance(value, int) and value < 0):
        raise Invalid("a GPIO number such as 17 or a pin name such as \"GPIO17\"")
    return value


def size(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 8192 for v in value):
        raise Invalid("[width, height] in pixels")
    return (value[0], value[1])


def labels(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid("a list of labels")
    return tuple(value)


def class_pins(value: Any) -> dict[str, Pin]:
    pins = label_pins(value)
    for name in pins:
        if not CLASS_NAME.fullmatch(name) or name.lower() in SPLITS:
            raise Invalid(f"a table of class = pin, each class 1-32 letters, digits, '-' or '_' (not {name!r})")
    return pins


def label_pins(value: Any) -> dict[str, Pin]:
    if not isinstance(value, dict):
        raise Invalid("a table of label = pin")
    try:
        return {label: pin(given) for label, given in value.items()}
    except Invalid:
        raise Invalid("a table of label = GPIO number or pin name") from None


def path(value: Any) -> Path:
    return Path(string(value))


def client_id(value: Any) -> str:
    """An MQTT client id that is also a topic level and a Home Assistant node id."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise Invalid("1 to 64 letters, digits, '-' or '_'")
    return value


def region_name(value: Any) -> str:
    """A region's name: also a topic level, a Home Assistant object id and a word in the results log."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", value):
        raise Invalid("1 to 32 letters, digits, '-' or '_', starting with a letter or digit")
    return value


def topic(value: Any) -> str:
    """A topic prefix to publish under: no wildcards, no empty level, no leading or trailing '/'."""
    if not isinstance(value, str) or not value or any(c in value for c in "+#\0") \
            or "" in value.split("/"):
        raise Invalid("a topic such as \"piclassify/kitchen\" (no '+', '#', no leading, trailing or double '/')")
    return value


def address(value: Any) -> str:
    """An IP address to listen on (not a host name, so whether it is loopback is certain)."""
    try:
        ipaddress.ip_address(string(value))
    except (Invalid, ValueError):
        raise Invalid("an IP address such as \"127.0.0.1\", \"0.0.0.0\" or \"::\"") from None
    return value
