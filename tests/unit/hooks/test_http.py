"""make_session: the configured `verify` really applies, with our headers, timeouts and pool."""

from __future__ import annotations

import requests_mock

from oh_outlook_provider import __version__
from oh_outlook_provider.hooks.http import POOL_SIZE, make_session


def test_a_configured_ca_file_beats_the_environments_bundle(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl-bundle.pem")
    session = make_session("/srv/airflow/company-ca.pem", 30)
    with requests_mock.Mocker() as m:
        m.get("https://graph.example/v1.0/users", json={})
        session.get("https://graph.example/v1.0/users")
    assert m.last_request.verify == "/srv/airflow/company-ca.pem"


def test_verify_false_stays_false_and_timeouts_are_connect_then_read(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    with requests_mock.Mocker() as m:
        m.get("https://h.example/", json={})
        make_session(False, 60).get("https://h.example/")
        assert m.last_request.verify is False and m.last_request.timeout == (10.0, 60)
        make_session(True, 5).get("https://h.example/")
        assert m.last_request.timeout == (5, 5)  # connecting never waits longer than reading


def test_headers_name_the_provider_and_accept_json_and_take_extras():
    session = make_session(True, 30, {"Prefer": 'IdType="ImmutableId"', "Accept": "text/plain"})
    with requests_mock.Mocker() as m:
        m.get("https://h.example/", text="")
        session.get("https://h.example/")
    headers = m.last_request.headers
    assert headers["User-Agent"] == f"oh-outlook-provider/{__version__}"
    assert headers["Prefer"] == 'IdType="ImmutableId"' and headers["Accept"] == "text/plain"


def test_one_pool_large_enough_for_every_mailbox_in_flight_for_both_schemes():
    session = make_session(True, 30)
    https, http = session.get_adapter("https://a.example/"), session.get_adapter("http://a.example/")
    assert https is http and https._pool_maxsize == POOL_SIZE >= 32 * 4


def _response(content: bytes, status: int = 200):
    import requests

    response = requests.Response()
    response.status_code, response._content, response.encoding = status, content, "utf-8"
    return response


def test_json_of_decodes_what_json_does_and_refuses_what_is_not_json_as_a_value_error():
    import json

    import pytest

    from oh_outlook_provider.hooks.http import decoded, json_of

    body = {"value": [{"id": "AAMk=", "subject": "Baustelle Müller ✓", "n": 2**53, "x": 1.5, "ok": None}],
            "@odata.nextLink": "https://graph.example/v1.0/users?$skiptoken=X"}
    assert json_of(_response(json.dumps(body).encode())) == body
    assert json_of(_response(json.dumps(body, ensure_ascii=False).encode())) == body
    # What msgspec refuses and response.json() read (review of issue 25): a byte-order mark, UTF-16, a lone
    # surrogate escape (an openHandwerk text cut in the middle of an emoji)
    assert json_of(_response(b"\xef\xbb\xbf" + json.dumps(body).encode())) == body
    assert json_of(_response(json.dumps(body).encode("utf-16"))) == body
    assert json_of(_response(b'{"subject": "Baustelle \\ud83d"}')) == {"subject": "Baustelle \ud83d"}
    for bad in (b"<html>Bad gateway</html>", b'{"a": 1', "Stra\u00dfe".encode("latin-1")):
        with pytest.raises(ValueError):
            json_of(_response(bad))
    assert decoded(_response(b"<html>Bad gateway</html>", 502))["error"]["code"] == "NonJsonResponse"
    assert decoded(_response(b"", 204)) is None


def test_proxies_come_from_the_environment_per_origin_and_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.firma.example:3128")
    monkeypatch.setenv("NO_PROXY", "intern.firma.example")
    session = make_session(True, 30)
    with requests_mock.Mocker() as m:
        m.get("https://graph.example/v1.0/users", json={})
        m.get("https://intern.firma.example/api", json={})
        session.get("https://graph.example/v1.0/users")
        assert m.last_request.proxies.get("https") == "http://proxy.firma.example:3128"
        session.get("https://intern.firma.example/api")
        assert not m.last_request.proxies.get("https")
        session.get("https://graph.example/v1.0/users", proxies={"https": "http://other.example:8080"})
        assert m.last_request.proxies["https"] == "http://other.example:8080"  # the caller's beats the environment's
        session.get("https://graph.example/v1.0/users", proxies=None)
        assert m.last_request.proxies["https"] == "http://proxy.firma.example:3128"


def test_verify_true_takes_the_environments_ca_bundle_as_requests_does_and_a_configured_file_beats_it(monkeypatch):
    """Review of issue 25: with trust_env off, REQUESTS_CA_BUNDLE (a TLS-inspecting proxy's CA) was lost."""
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp-ca.pem")
    with requests_mock.Mocker() as m:
        m.get("https://h.example/", json={})
        make_session(True, 30).get("https://h.example/")
        assert m.last_request.verify == "/etc/ssl/corp-ca.pem"
        make_session("/srv/airflow/company-ca.pem", 30).get("https://h.example/")
        assert m.last_request.verify == "/srv/airflow/company-ca.pem"
        make_session(False, 30).get("https://h.example/")
        assert m.last_request.verify is False
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        make_session(True, 30).get("https://h.example/")
        assert m.last_request.verify is True


def test_a_netrc_entry_never_replaces_the_authorization_header(tmp_path, monkeypatch):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine graph.example login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with requests_mock.Mocker() as m:
        m.get("https://graph.example/v1.0/users", json={})
        make_session(True, 30).get("https://graph.example/v1.0/users", headers={"Authorization": "Bearer t"})
    assert m.last_request.headers["Authorization"] == "Bearer t"
