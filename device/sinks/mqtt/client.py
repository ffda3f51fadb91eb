"""paho-mqtt behind one small surface: 1.6 (Debian bookworm's python3-paho-mqtt) and 2.x (PyPI) alike.

paho 2 wants ``CallbackAPIVersion.VERSION2`` in the constructor and hands callbacks reason-code
objects; 1.6 has no such enum and hands plain integers. Everything version-specific is here: the
client (TLS, user name and a password read from a file, the Last Will), the broker's answer to a
connect, and connection errors as a few words for one log line. paho is imported only when MQTT is
configured (``pip install 'piclassify[mqtt]'``). Passwords never reach a message or a log line.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from piclassify.shared.errors import PiclassifyError

if TYPE_CHECKING:
    from piclassify.device.config import MqttConfig

INSTALL_HINT = "pip install 'piclassify[mqtt]' (paho-mqtt 2.x), or on Raspberry Pi OS: apt install python3-paho-mqtt"
# CONNACK refusals that mean the credentials, worth a hint where to look
_AUTH_REFUSALS = ("not authori", "bad user name or password", "bad username or password")


class MqttUnavailable(PiclassifyError):
    """MQTT is configured but paho-mqtt is not installed."""


class MqttSetupError(PiclassifyError):
    """The client cannot be set up: a TLS file or the password file is missing or unusable."""


def paho() -> Any:
    """``paho.mqtt.client``, imported on first use."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError as error:
        raise MqttUnavailable(f"MQTT needs paho-mqtt, which is not installed: {INSTALL_HINT}") from error
    return mqtt


def paho_version() -> str:
    try:
        import paho.mqtt
    except ImportError:
        return "none"
    return str(getattr(paho.mqtt, "__version__", "unknown"))


@dataclass(frozen=True)
class Broker:
    """Where to connect and how: the part of ``[mqtt]`` (or of ``piclassify fleet``'s options) paho needs."""

    host: str
    port: int = 1883
    tls: bool = False
    ca_file: Optional[Path] = None
    cert_file: Optional[Path] = None
    key_file: Optional[Path] = None
    username: Optional[str] = None
    password_file: Optional[Path] = None

    @classmethod
    def from_config(cls, config: MqttConfig) -> "Broker":
        assert config.host is not None
        return cls(config.host, config.broker_port(), config.uses_tls(), config.ca_file, config.cert_file,
                   config.key_file, config.username, config.password_file)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def new_client(client_id: str, broker: Broker, keepalive: int = 60,
               will: Optional[tuple[str, str, int, bool]] = None, max_inflight: int = 20) -> Any:
    """A paho client set up for ``broker`` (not connected yet: ``client.reconnect()`` connects).

    ``will`` is the Last Will (topic, payload, qos, retain) the broker publishes if the connection
    dies without a clean goodbye; ``max_inflight`` bounds QoS 1 and 2 messages awaiting their
    acknowledgement. Raises ``MqttSetupError`` (a TLS or password file) or ``MqttUnavailable``.
    """
    mqtt = paho()
    options = {"client_id": client_id, "clean_session": True, "protocol": mqtt.MQTTv311}
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho 2.x
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **options)
    else:  # paho 1.x
        client = mqtt.Client(**options)
    if broker.username is not None:
        client.username_pw_set(broker.username, read_password(broker.password_file, broker))
    if broker.tls:
        try:
            client.tls_set(ca_certs=_optional(broker.ca_file), certfile=_optional(broker.cert_file),
                           keyfile=_optional(broker.key_file))
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise MqttSetupError(f"broker {broker}: cannot set up TLS with {_tls_files(broker)}: "
                                 f"{_error_text(error)}") from None
    if will is not None:
        client.will_set(*will)
    client.max_inflight_messages_set(max_inflight)
    client.connect_async(broker.host, broker.port, keepalive)
    return client


def read_password(path: Optional[Path], broker: Broker) -> Optional[str]:
    """The password file's text without its line end; its content is never part of an error."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        raise MqttSetupError(f"broker {broker}: cannot read password_file {path}: {reason}") from None
    password = text.rstrip("\r\n")
    if not password or "\n" in password:
        raise MqttSetupError(f"broker {broker}: password_file {path} must hold the password alone, on one line")
    return password


def on_connect(client: Any, handler: Callable[[Optional[str]], None]) -> None:
    """Call ``handler(None)`` when the broker accepts the connection, ``handler(reason)`` when it refuses."""
    def callback(_client: Any, _userdata: Any, _flags: Any, code: Any, *_properties: Any) -> None:
        handler(refusal(code))  # 1.x: (client, userdata, flags, rc); 2.x: (..., reason_code, properties)
    client.on_connect = callback


def on_message(client: Any, handler: Callable[[Any], None]) -> None:
    """``handler(message)`` for each message on a subscribed topic (the same in 1.x and 2.x)."""
    client.on_message = lambda _client, _userdata, message: handler(message)


def on_publish(client: Any, handler: Callable[[int], None]) -> None:
    """``handler(mid)`` once paho has delivered a message: QoS 0 written out, QoS 1 and 2 acknowledged.

    This rather than ``MQTTMessageInfo.is_published()``: that raises for good once a first send
    failed with the connection, although paho keeps a QoS 1 or 2 message and sends it again after
    reconnecting, and then calls this (1.x passes (client, userdata, mid), 2.x adds a reason code
    and properties).
    """
    client.on_publish = lambda _client, _userdata, mid, *_rest: handler(mid)


def on_subscribe(client: Any, handler: Callable[[], None]) -> None:
    """``handler()`` for each SUBACK (1.x passes granted QoS, 2.x reason codes and properties)."""
    client.on_subscribe = lambda *_args: handler()


def refusal(code: Any) -> Optional[str]:
    """None for an accepted CONNACK, else the refusal in a few words (with a hint for credentials)."""
    failed = code.is_failure if hasattr(code, "is_failure") else code != 0
    if not failed:
        return None
    text = paho().connack_string(code)
    text = text.replace("Connection Refused: ", "").rstrip(".").lower().replace("authorised", "authorized")
    if any(words in text for words in _AUTH_REFUSALS):
        text += " (check username and password_file)"
    return f"refused: {text}"


def describe(error: BaseException) -> str:
    """A connection attempt's failure in a few words: unknown host, refused, TLS, timed out."""
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror or error})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running, on this port?)"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate is not accepted ({error.verify_message or error.reason})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer (timed out)"
    return _error_text(error)


def _error_text(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return f"{error.reason or error}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}" + (f" ({error.filename})" if error.filename else "")
    return str(error) or type(error).__name__


def _tls_files(broker: Broker) -> str:
    named = [f"{key} {path}" for key, path in (("ca_file", broker.ca_file), ("cert_file", broker.cert_file),
                                                ("key_file", broker.key_file)) if path is not None]
    return ", ".join(named) or "the system's CA certificates"


def _optional(path: Optional[Path]) -> Optional[str]:
    return None if path is None else str(path)
