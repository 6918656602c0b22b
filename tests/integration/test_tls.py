"""TLS of our HTTP sessions against the sandbox's real HTTPS (hooks/http.make_session, tls_context):
one SSLContext per CA source, its certificates read once, and every check TLS had before still made."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Iterator

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
    """Bug: requests and urllib3 built an SSLContext and read the CA bundle for every new connection: 29 ms
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
