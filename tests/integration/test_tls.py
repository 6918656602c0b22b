"""TLS of our HTTP sessions against the sandbox's real HTTPS (hooks/http.make_session, tls_context):
one SSLContext per CA source, its certificates read once, and every check TLS had before still made."""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import requests

from devtools.sandbox.tls import make_client_certificate, make_tls_files
from oh_outlook_provider.hooks import http
from oh_outlook_provider.hooks.http import make_session

pytestmark = pytest.mark.sandbox


@pytest.fixture
def loads(monkeypatch) -> list[tuple]:
    """Every CA load of this process (ssl.SSLContext.load_verify_locations), recorded."""
    monkeypatch.setattr(http, "_CONTEXTS", {})
    seen: list[tuple] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(self, *args, **kwargs):
        seen.append((args, kwargs))
        return load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return seen


def test_the_ca_file_is_read_once_however_many_sessions_and_connections(shared_sandbox, loads):
    """Bug: requests and urllib3 built an SSLContext and read the CA bundle for every new connection: 30-40 ms
    of CPU each with certifi's bundle, ~30 connections a run (issue 25)."""
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    for _ in range(4):  # a new session: new connections, as every hook of a task makes
        with make_session(shared_sandbox.ca_path, 10) as session:
            assert session.get(url).status_code == 200
    assert len(loads) == 1


def test_a_server_the_ca_does_not_vouch_for_is_still_refused(shared_sandbox, loads, tmp_path):
    other_ca, _, _ = make_tls_files(tmp_path, ("127.0.0.1",))
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    with pytest.raises(requests.exceptions.SSLError):
        make_session(str(other_ca), 10).get(url)
    with pytest.raises(requests.exceptions.SSLError):  # certifi's bundle: the sandbox's own CA is not in it
        make_session(True, 10).get(url)
    assert make_session(False, 10).get(url).status_code == 200  # verify=False checks nothing, as before


@pytest.fixture
def server_named_otherwise(tmp_path) -> Iterator[tuple[str, str]]:
    """A TLS server on 127.0.0.1 whose certificate (self-signed, its own CA) names someone else:
    (its URL, the certificate's file to trust)."""
    key_pem, cert_pem, _ = make_client_certificate("graph.example")  # a name only, no 127.0.0.1
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with contextlib.suppress(OSError, ssl.SSLError), context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/", str(cert)
    listener.close()


def test_a_name_the_certificate_does_not_hold_is_still_refused(server_named_otherwise, loads):
    url, trusted = server_named_otherwise
    with pytest.raises(requests.exceptions.SSLError, match="(?i)hostname|match"):
        make_session(trusted, 10).get(url)
    assert make_session(False, 10).get(url).status_code == 200  # the server itself answers


def test_a_renewed_ca_file_is_read_again_and_a_missing_one_fails_as_requests_fails(shared_sandbox, loads, tmp_path):
    ca = tmp_path / "company-ca.pem"
    ca.write_bytes(open(shared_sandbox.ca_path, "rb").read())
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    assert make_session(str(ca), 10).get(url).status_code == 200
    stat = ca.stat()
    os.utime(ca, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the admin put a new file there
    assert make_session(str(ca), 10).get(url).status_code == 200
    assert len(loads) == 2
    with pytest.raises(OSError, match="Could not find a suitable TLS CA certificate bundle"):
        make_session(str(tmp_path / "missing.pem"), 10).get(url)


@pytest.fixture
def tls_proxy(tmp_path) -> Iterator[tuple[str, str, list[str]]]:
    """An https:// proxy on 127.0.0.1 that tunnels CONNECT, its certificate from its own CA:
    (its URL, that CA's file, the request lines it received)."""
    ca, cert, key = make_tls_files(tmp_path / "proxy")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def tunnel(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            head = b""
            while b"\r\n\r\n" not in head and (data := tls.recv(4096)):
                head += data
            seen.append(head.split(b"\r\n")[0].decode())
            host, port = seen[-1].split(" ")[1].rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                tls.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                threading.Thread(target=pump, args=(upstream, tls), daemon=True).start()
                pump(tls, upstream)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=tunnel, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", str(ca), seen
    listener.close()


def test_an_https_proxy_is_checked_with_the_configured_ca_file_read_once(shared_sandbox, tls_proxy, loads, tmp_path):
    """Bug: the proxy's own certificate was checked against the system's CA store, not the configured CA
    file requests checks it with (ProxyError for a company proxy whose CA is only in that file)."""
    proxy, proxy_ca, seen = tls_proxy
    bundle = tmp_path / "company-bundle.pem"  # the sandbox's CA and the proxy's, as a company bundle holds both
    bundle.write_text(open(shared_sandbox.ca_path).read() + open(proxy_ca).read())
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    for _ in range(2):
        with make_session(str(bundle), 10) as session:
            assert session.get(url, proxies={"https": proxy}).status_code == 200
    assert len(seen) == 2 and seen[0].startswith("CONNECT 127.0.0.1:")
    assert len(loads) == 1
    with pytest.raises(requests.exceptions.ProxyError):  # a proxy the CA file does not vouch for
        make_session(shared_sandbox.ca_path, 10).get(url, proxies={"https": proxy})


def test_a_request_given_its_own_verify_is_checked_with_that(shared_sandbox, loads, tmp_path):
    """Bug: a request's own `verify=` was ignored for the session's shared context: another CA file was not
    applied (a server it does not vouch for was accepted) and `verify=False` raised ValueError."""
    other_ca, _, _ = make_tls_files(tmp_path, ("127.0.0.1",))
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    with pytest.raises(requests.exceptions.SSLError):
        make_session(shared_sandbox.ca_path, 10).get(url, verify=str(other_ca))
    assert make_session(str(other_ca), 10).get(url, verify=shared_sandbox.ca_path).status_code == 200
    assert make_session(shared_sandbox.ca_path, 10).get(url, verify=False).status_code == 200


def test_a_session_pickles_and_still_checks_servers(shared_sandbox, tmp_path):
    """Bug: the adapter's class was local to a function, so a session no longer pickled as requests' does."""
    other_ca, _, _ = make_tls_files(tmp_path, ("127.0.0.1",))
    url = f"{shared_sandbox.base_url}/_sandbox/fleet"
    assert pickle.loads(pickle.dumps(make_session(shared_sandbox.ca_path, 10))).get(url).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        pickle.loads(pickle.dumps(make_session(str(other_ca), 10))).get(url)


def test_a_ca_path_given_as_a_path_object_never_gets_the_unchecking_context():
    """Bug: every CA source that is not a str shared the key of verify=False."""
    assert http.tls_context(Path(certifi.where())) is None
    assert http.tls_context(False).verify_mode == ssl.CERT_NONE
