"""The one place that builds requests sessions for our hooks and for msal, and counts their calls."""

from __future__ import annotations

import functools
import json
import os
import ssl
import threading
import types
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
      build a context and parse the CA bundle again for each new connection, 30-40 ms of CPU with
      certifi's bundle (`verify=True`), which a run pays for each of its ~30 connections.
    - `timeout`: seconds to read; connecting waits at most 10 s.
    """
    import requests

    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session = requests.Session()
    session.verify = verify
    session.trust_env = False
    # Up to 32 mailboxes x 4 requests in flight: keep that many connections, so none is
    # thrown away and re-handshaken (TLS) under load.
    # Without a context for `verify` (tls_context None) the adapter is requests' own in every request.
    adapter = _adapter_class()(verify, pool_connections=8, pool_maxsize=POOL_SIZE)
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
    None when the CA source cannot be read, or is not a str (e.g. a Path): the session then leaves it to
    requests, which raises its own error at the first request, as before.
    """
    from requests.utils import DEFAULT_CA_BUNDLE_PATH
    from urllib3.util.ssl_ import create_urllib3_context

    if verify is False:
        key: tuple = (False,)
    else:
        location = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        if not isinstance(location, str):  # requests' own handling, never the (False,) context
            return None
        try:
            found = os.stat(location)
        except OSError:
            return None
        key = (location, found.st_size, found.st_mtime_ns)
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


def _shared_context_adapter_class() -> type:
    """SharedContextAdapter's class, built on first use (requests is imported lazily)."""
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        """An HTTPAdapter whose TLS connections made with the session's own `verify` (https, no client
        certificate) use `tls_context(verify)`, not a context and a CA bundle read per connection. A request
        with another `verify`, or a client certificate, gets requests' own pools and checks, so neither is
        ever put into the process-wide context. The TLS of an https:// proxy is checked with the same context,
        as requests checks it with the same CA file. requests' own checks stay (`cert_verify` still runs)."""

        __attrs__ = [*HTTPAdapter.__attrs__, "verify"]

        def __init__(self, verify: bool | str, **kwargs: Any) -> None:
            self.verify = verify
            self.context = tls_context(verify)
            super().__init__(**kwargs)

        def __setstate__(self, state: dict[str, Any]) -> None:
            super().__setstate__(state)
            self.context = tls_context(self.verify)

        def shares(self, url: str, verify: Any, cert: Any) -> bool:
            """Whether a request to `url` with this `verify` and client `cert` uses the shared context."""
            return (self.context is not None and url.lower().startswith("https:") and not cert
                    and type(verify) is type(self.verify) and verify == self.verify)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            if self.context is not None and proxy.lower().startswith("https:"):
                proxy_kwargs.setdefault("proxy_ssl_context", self.context)
            return super().proxy_manager_for(proxy, **proxy_kwargs)

        def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            if self.shares(request.url, verify, cert):
                pool_kwargs.pop("ca_certs", None)  # in the context already: urllib3 would read the file again
                pool_kwargs.pop("ca_cert_dir", None)
                pool_kwargs["ssl_context"] = self.context
            return host_params, pool_kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            if self.context is None or getattr(conn, "conn_kw", {}).get("ssl_context") is not self.context:
                return super().cert_verify(conn, url, verify, cert)
            # A pool of the shared context: requests' checks (its OSError for a missing CA file) on a stand-in,
            # so the pool, which other threads open connections from meanwhile, never names the CA file.
            checked = types.SimpleNamespace()
            super().cert_verify(checked, url, verify, cert)
            conn.cert_reqs = checked.cert_reqs

    return Adapter


@functools.cache
def _adapter_class() -> type:
    """The class SharedContextAdapter, made once; module-level by name (PEP 562 `__getattr__`), so a session
    holding one pickles as a plain requests session does."""
    adapter = _shared_context_adapter_class()
    adapter.__name__ = adapter.__qualname__ = "SharedContextAdapter"
    return adapter


def __getattr__(name: str) -> Any:
    """`SharedContextAdapter` (its class imports requests, which this module does only when used)."""
    if name == "SharedContextAdapter":
        return _adapter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
