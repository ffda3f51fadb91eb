"""Who may use the web view: the access token, its file, and the checks each request passes.

On a loopback address (the default, ``127.0.0.1``) only this machine reaches the server, so no
token is needed; the ``Host`` header must then name a loopback host too, which stops a web page
elsewhere from reading the camera through DNS rebinding. Any other address needs a token, made
by ``piclassify web-token``: 32 random bytes as 64 hex characters in a file of mode 0600. A
client sends it as ``Authorization: Bearer TOKEN`` or, for a browser, as ``?token=TOKEN`` in the
page's address (the page passes it on to its images and event stream). It is compared in constant
time and never logged. GETs change nothing; a POST also needs a same-origin request: its
``Origin`` (or ``Referer``) must name the host in ``Host`` (a client that sends neither is not a
browser, so no other site can make it post).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path
from typing import Optional, Protocol
from urllib.parse import urlsplit

from piclassify.device.config import is_loopback, needs_token
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.atomic_file import write_atomically
from piclassify.shared.files.regular_file import open_regular

TOKEN_BYTES = 32
MIN_TOKEN_CHARS = 32  # 16 random bytes, written as hex
MAX_TOKEN_CHARS = 1024


class WebError(PiclassifyError):
    """The web view cannot start: a bad token file, an address in use, a non-loopback address without a token."""


def new_token() -> str:
    return secrets.token_hex(TOKEN_BYTES)


def write_token(path: Path) -> None:
    """A new token in ``path``, mode 0600, replacing any old file (never writing through a symlink)."""
    path = Path(path)
    try:
        write_atomically(path, (new_token() + "\n").encode("ascii"), 0o600)
    except OSError as error:
        raise WebError(f"{path}: cannot write token: {error.strerror or error}") from None


def read_token(path: Path, key: str = "web.token_file") -> str:
    """The token in ``path``: at least 16 random bytes' worth (32 hex characters), printable, no spaces."""
    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_TOKEN_CHARS + 2)
    except OSError as error:
        raise WebError(f"{key} = {str(path)!r}: cannot read token: {error.strerror or error}") from None
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS or not token.isprintable() or " " in token:
        raise WebError(f"{key} = {str(path)!r}: not a token of at least {MIN_TOKEN_CHARS} printable characters "
                       f"without spaces; make one with `piclassify web-token --out {path}`")
    return token


def check_listen(host: str, token: Optional[str]) -> None:
    """The server itself refuses to serve an address that needs a token (``config.needs_token``) without one,
    whoever started it."""
    if token is None and needs_token(host):
        raise WebError(f"the web view on {host} needs a token (web.token_file, or --web-token-file); only "
                       "loopback addresses (127.0.0.1, ::1) are served without one")


def split_host(value: str) -> str:
    """The host of a ``Host`` header or URL authority, without port or IPv6 brackets, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Headers(Protocol):
    """A request's headers, as ``http.server`` has them (an ``email.message.Message``), or a dict in a test."""

    def get(self, name: str) -> Optional[str]: ...


class Access:
    """The checks of one server: ``token`` is None when none is configured (loopback only)."""

    def __init__(self, token: Optional[str]) -> None:
        self._token = token.encode("ascii") if token else None

    @property
    def needs_token(self) -> bool:
        return self._token is not None

    def allowed(self, headers: Headers, query_token: Optional[str]) -> bool:
        """The request carries the token (header or query), or none is configured and it is addressed to loopback."""
        if self._token is None:
            return is_loopback(split_host(headers.get("Host") or "localhost"))
        given = query_token or ""
        authorization = headers.get("Authorization") or ""
        if authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._token)

    @staticmethod
    def same_origin(headers: Headers) -> bool:
        """A POST's ``Origin`` (else ``Referer``) names the host and port it was sent to; neither: not a browser."""
        origin = headers.get("Origin") or headers.get("Referer")
        if origin is None:
            return True
        host = (headers.get("Host") or "").strip().lower()
        return bool(host) and urlsplit(origin).netloc.lower() == host


def parse_listen(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); the host must be an IP address."""
    host, port = default_host, text
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected [ADDRESS]:PORT")
        host, port = inside, rest[1:]
    elif ":" in text:
        host, port = text.rsplit(":", 1)
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r}: expected [HOST:]PORT with an IP address, e.g. 8080 or 0.0.0.0:8080") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"{text!r}: the port must be from 1 to 65535")
    return host, number
