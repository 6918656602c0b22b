"""The one place that builds requests sessions for our hooks and for msal, and counts their calls."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

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
    # Proxies from the environment (HTTPS_PROXY, NO_PROXY, ...) are looked up once per origin, not by requests
    # for every call (it walks the whole environment each time: 4 % of a rerun's CPU); and no ~/.netrc entry
    # can replace our Authorization header (requests applies one only while trust_env is on).
    session.trust_env = False
    # Up to 32 mailboxes x 4 requests in flight: keep that many connections, so none is
    # thrown away and re-handshaken (TLS) under load.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": f"oh-outlook-provider/{__version__}", "Accept": "application/json",
                            **(headers or {})})
    send = functools.partial(session.request, verify=verify, timeout=(min(10.0, timeout), timeout))

    def request(method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("proxies", _environ_proxies(_origin(url)))
        return send(method, url, **kwargs)

    session.request = request
    return session


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=64)
def _environ_proxies(origin: str) -> dict[str, str]:
    """The proxies the environment names for one origin (NO_PROXY honoured), as requests would find them."""
    from requests.utils import get_environ_proxies

    return get_environ_proxies(origin + "/")


def json_of(response: Any) -> Any:
    """A response body's JSON value (dicts, lists, str, int, float, bool, None). Raises ValueError when
    the body is not JSON in UTF-8 (RFC 8259 section 8.1: JSON between systems is UTF-8).

    Decoded with msgspec (Airflow's Task SDK already depends on it): half the CPU of `response.json()`
    on a page of 500 Graph events, and JSON decoding is a seventh of a rerun's client CPU (issue 25).
    """
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None


def decoded(response: Any) -> Any:
    """A response's JSON; None for 204 or no body; a non-JSON body as an error object Graph would send."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return json_of(response)
    except ValueError:
        return {"error": {"code": "NonJsonResponse", "message": response.text[:200]}}


@dataclass
class RequestStats:
    """Counts of HTTP calls this hook made, for summaries and benchmarks."""

    requests: int = 0
    batch_calls: int = 0
    sub_requests: int = 0
    throttled: int = 0
    token_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "batch_calls": self.batch_calls,
            "sub_requests": self.sub_requests,
            "throttled": self.throttled,
            "token_requests": self.token_requests,
        }
