"""The one place that builds requests sessions for our hooks and for msal."""

from __future__ import annotations

import functools
from typing import Any

from oh_outlook_provider import __version__

POOL_SIZE = 160


def make_session(verify: bool | str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    """A requests.Session whose `verify` really applies.

    requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override `Session.verify` (env beats
    session), which silently ignores a configured CA file; binding `verify` per request fixes
    that, and keeps proxies from the environment working.
    """
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.verify = verify
    # Up to 32 mailboxes x 4 requests in flight: keep that many connections, so none is
    # thrown away and re-handshaken (TLS) under load.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": f"oh-outlook-provider/{__version__}", "Accept": "application/json",
                            **(headers or {})})
    session.request = functools.partial(session.request, verify=verify, timeout=(min(10.0, timeout), timeout))
    return session
