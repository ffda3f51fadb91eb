"""Reading the config file: every mistake a one-line ``ConfigError`` naming the file and the key.

The Pi has no screen, so a typo must stop the service at start-up (and show in ``journalctl``)
rather than run with a setting silently ignored. Keys are checked one by one as ``sections``
declares them, then against each other (a pin used twice, a LAN address without a token), and
against the model once it is loaded (``check_against_model``).
"""

from __future__ import annotations

import sys
from dataclasses import Field
from pathlib import Path
from typing import Any, Mapping, Union

from piclassify.device.config.checks import Invalid
from piclassify.device.config.sections import REQUIRED_REGION_KEYS, RegionConfig, ServiceConfig, keys, sections
from piclassify.device.config.web_access import needs_token
from piclassify.device.core.regions import Box, RegionBoxError
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.regular_file import open_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the Pi's Python 3.9
    import tomli as tomllib


class ConfigError(PiclassifyError):
    """The service config is missing, not TOML, or has an unknown key or a bad value."""


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
    tables = sections()
    values = _read(table, "", where, keys(ServiceConfig), skip=(*tables, "region"))
    values["regions"] = _regions(table.get("region", []), where)
    for name, cls in tables.items():
        section = table.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {name} must be a table ([{name}])")
        values[name] = cls(**_read(section, f"{name}.", where, keys(cls)))
    config = ServiceConfig(**values)
    _check_consistent(config, where)
    return config


def _regions(tables: Any, where: str) -> tuple[RegionConfig, ...]:
    """The ``[[region]]`` tables: each key checked, the required ones there, the box inside the frame, names unique."""
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError(f"{where}: region must be an array of tables ([[region]])")
    regions: list[RegionConfig] = []
    for number, table in enumerate(tables, 1):
        region = RegionConfig(**_read(table, f"region[{number}].", where, keys(RegionConfig)))
        missing = [key for key in REQUIRED_REGION_KEYS if getattr(region, key) is None]
        if missing:
            raise ConfigError(f"{where}: region[{number}] needs {', '.join(missing)}")
        try:
            Box(region.x or 0.0, region.y or 0.0, region.w or 0.0, region.h or 0.0)
        except RegionBoxError as error:
            raise ConfigError(f"{where}: region {region.name}: {error}") from None
        if any(region.name == other.name for other in regions):
            raise ConfigError(f"{where}: two regions are named {region.name!r}")
        regions.append(region)
    return tuple(regions)


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


def _read(table: Mapping[str, Any], prefix: str, where: str, known: Mapping[str, Field],
          skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Checked values of the keys present in ``table``; absent keys keep the dataclass default."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'")
        try:
            values[key] = known[key].metadata["check"](value)
        except Invalid as error:
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
