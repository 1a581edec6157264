"""The one network check: downloads and W&B online mode ask it first, because the libraries
they use retry for minutes when there is no network."""

import socket
from urllib.parse import urlparse


def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """None if the URL's host answers a TCP connect within `timeout`, else the reason."""
    u = urlparse(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        socket.create_connection((u.hostname, port), timeout=timeout).close()
        return None
    except OSError as e:
        return f"{u.hostname} unreachable: {e.strerror or e}"
