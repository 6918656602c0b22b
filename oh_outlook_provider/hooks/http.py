"""The one place that builds requests sessions for our hooks and for msal, and counts their calls."""

from __future__ import annotations

import functools
import json
import os
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from oh_outlook_provider import __version__

POOL_SIZE = 160


def make_session(verify: bool | str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    """A requests.Session whose `verify` really applies, reading the environment once, not per request.

    - `verify`: a CA file beats REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (requests lets the environment
      override `Session.verify`, which would silently ignore a configured CA file); `True` takes
      the environment's bundle when one is set, as requests does (e.g. a company's TLS-inspecting
      proxy), else certifi's; `False` checks nothing.
    - Proxies (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) are looked up once per origin of this
      session; requests itself walks the whole environment on every call (4 % of a rerun's CPU,
      issue 25). A caller's `proxies=` entries beat the environment's per scheme, as in requests.
    - `trust_env` is off, so no ~/.netrc entry can replace our Authorization header (requests
      applies a netrc login only while it is on). A redirect keeps the proxy of the first origin.
    - Every TLS connection shares one SSLContext per CA source (`tls_context`): requests and urllib3
      build a context and parse the CA bundle again for each new connection, 29 ms of CPU with
      certifi's bundle (`verify=True`), which a run pays for each of its ~30 connections.
    - `timeout`: seconds to read; connecting waits at most 10 s.
    """
    import requests
    from requests.adapters import HTTPAdapter

    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session = requests.Session()
    session.verify = verify
    session.trust_env = False
    # Up to 32 mailboxes x 4 requests in flight: keep that many connections, so none is
    # thrown away and re-handshaken (TLS) under load.
    context = tls_context(verify)
    adapter = (HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE) if context is None
               else _shared_context_adapter(context))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": f"oh-outlook-provider/{__version__}", "Accept": "application/json",
                            **(headers or {})})
    send = functools.partial(session.request, verify=verify, timeout=(min(10.0, timeout), timeout))
    by_origin: dict[str, dict[str, str]] = {}

    def request(method: str, url: str, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = by_origin.get(origin)
        if found is None:
            found = by_origin[origin] = environ_proxies(origin)
        kwargs["proxies"] = {**found, **(kwargs.get("proxies") or {})}
        return send(method, url, **kwargs)

    session.request = request
    return session


_CONTEXTS: dict[tuple, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def tls_context(verify: bool | str) -> ssl.SSLContext | None:
    """The SSLContext every connection of this process checks servers with for `verify` (True: certifi's
    bundle, as requests uses; a path: that CA file or directory; False: no check), its CA certificates
    loaded once. Remembered per path, size and modification time, so a renewed CA file is read again.
    None when the CA source cannot be read: the session then leaves it to requests, which raises its
    own error at the first request, as before.
    """
    from requests.utils import DEFAULT_CA_BUNDLE_PATH
    from urllib3.util.ssl_ import create_urllib3_context

    location = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    try:
        found = os.stat(location) if isinstance(location, str) else None
    except OSError:
        return None
    key = (location, found.st_size, found.st_mtime_ns) if found is not None else (False,)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            if verify is False:
                context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
            else:
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                try:
                    if os.path.isdir(location):
                        context.load_verify_locations(capath=location)
                    else:
                        context.load_verify_locations(cafile=location)
                except (OSError, ssl.SSLError):
                    return None
            _CONTEXTS[key] = context
        return context


def _shared_context_adapter(context: ssl.SSLContext) -> Any:
    """An HTTPAdapter (POOL_SIZE connections) whose TLS connections all use `context`, not a context and a
    CA bundle read per connection. requests' own checks stay (its `cert_verify` still runs)."""
    from requests.adapters import HTTPAdapter

    class SharedContextAdapter(HTTPAdapter):
        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
            super().init_poolmanager(connections, maxsize, block, ssl_context=context, **pool_kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            return super().proxy_manager_for(proxy, ssl_context=context, **proxy_kwargs)

        def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            pool_kwargs.pop("ca_certs", None)  # in `context` already: urllib3 would read the file again
            pool_kwargs.pop("ca_cert_dir", None)
            return host_params, pool_kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, verify, cert)
            conn.ca_certs = conn.ca_cert_dir = None  # likewise

    return SharedContextAdapter(pool_connections=8, pool_maxsize=POOL_SIZE)


def environ_proxies(origin: str) -> dict[str, str]:
    """The proxies the environment names for one origin (`scheme://host[:port]`), NO_PROXY honoured,
    as requests finds them (`requests.utils.get_environ_proxies`): {"https": "http://proxy:3128", ...}."""
    from requests.utils import get_environ_proxies

    return get_environ_proxies(origin + "/")


def json_of(response: Any) -> Any:
    """A response body's JSON value (dicts, lists, str, int, float, bool, None). Raises ValueError when
    the body is not JSON.

    Decoded with msgspec (Airflow's Task SDK already depends on it): half the CPU of `response.json()`
    on a page of 500 Graph events, and JSON decoding is a seventh of a rerun's client CPU (issue 25).
    What msgspec refuses and the standard library reads (a byte-order mark, UTF-16, a lone surrogate
    escape such as a text cut in the middle of an emoji; RFC 8259 sections 8.1 and 8.2) is decoded by
    the standard library, as `response.json()` did.
    """
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
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
