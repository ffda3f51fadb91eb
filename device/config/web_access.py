"""The web view's one access rule: a loopback address (this Pi alone) is served without a token, any other needs one.

The ``[web]`` section, ``piclassify run --web`` and the web server itself all ask ``needs_token``
here; the server's ``Host`` check asks ``is_loopback``. It lives with the config, the lowest room
that must know it: the config refuses ``web.host = "0.0.0.0"`` without ``web.token_file`` as it loads.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "127.0.0.1"  # where the web view listens unless told otherwise


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost`` (an address, or a ``Host`` header's name): this machine alone."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    """Served on ``host``, the web view reaches other machines, so it needs a token."""
    return not is_loopback(host)
