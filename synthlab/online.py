"""The one network check: downloads and W&B online mode ask it first, because the libraries
they use retry for minutes when there is no network."""

import socket
from urllib.parse import urlparse


def unreachable(url: str, timeout: float = 5.0, http: bool = False) -> str | None:
    """None if the URL's host answers within `timeout`, else the reason. http=True asks for an
    HTTP answer too (any status): a server that accepts connections and never answers counts
    as unreachable, where a client library would wait for minutes."""
    u = urlparse(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        socket.create_connection((u.hostname, port), timeout=timeout).close()
    except OSError as e:
        return f"{u.hostname} unreachable: {e.strerror or e}"
    if not http:
        return None
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=timeout).close()
    except urllib.error.HTTPError:
        pass  # an answer, whatever its status
    except (urllib.error.URLError, OSError) as e:
        return f"{u.hostname} does not answer: {getattr(e, 'reason', e)}"
    return None
