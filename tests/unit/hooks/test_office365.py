"""Office365Hook against requests-mock: auth, paging, batch, throttling, limiter, errors, secrets."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time

import pytest
import requests
import requests_mock

from oh_outlook_provider import exceptions as errors
from tests.unit.support.graph_mock import (
    CLIENT,
    DISCOVERY,
    GRAPH,
    SECRET,
    TOKEN_URL,
    graph_calls,
    make_hook,
    mock_entra,
    token_calls,
)


def test_token_comes_from_tenant_discovery_and_is_reused():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users", json={"value": []})
        hook = make_hook()
        for _ in range(3):
            hook.get("/users")
        assert m.request_history[0].url.startswith(DISCOVERY)
        assert token_calls(m) == 1
        form = m.request_history[1].text
        assert "grant_type=client_credentials" in form and "graph.microsoft.com%2F.default" in form
        assert all(r.headers["Authorization"] == "Bearer token-one" for r in graph_calls(m))
        assert all(r.headers["Prefer"] == 'IdType="ImmutableId"' for r in graph_calls(m))
        assert graph_calls(m)[0].headers["User-Agent"].startswith("oh-outlook-provider/")


def test_401_forces_one_new_token_then_succeeds():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users", [{"status_code": 401, "json": {"error": {"code": "InvalidAuthenticationToken"}}},
                                 {"json": {"value": [{"id": "u1"}]}}])
        assert make_hook().get("/users") == {"value": [{"id": "u1"}]}
        assert token_calls(m) == 2
        assert [r.headers["Authorization"] for r in graph_calls(m)] == ["Bearer token-one", "Bearer token-two"]


def test_second_401_is_an_error_not_a_loop():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users", status_code=401, json={"error": {"code": "InvalidAuthenticationToken"}})
        with pytest.raises(errors.GraphError) as exc:
            make_hook().get("/users")
        assert exc.value.status == 401 and len(graph_calls(m)) == 2


def test_paginate_follows_three_pages():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        page2, page3 = f"{GRAPH}/users?$skiptoken=a", f"{GRAPH}/users?$skiptoken=b"
        m.get(f"{GRAPH}/users?$top=2", json={"value": [{"id": 1}, {"id": 2}], "@odata.nextLink": page2})
        m.get(page2, json={"value": [{"id": 3}, {"id": 4}], "@odata.nextLink": page3})
        m.get(page3, json={"value": [{"id": 5}]})
        ids = [u["id"] for u in make_hook().paginate("/users", params={"$top": "2"})]
        assert ids == [1, 2, 3, 4, 5]
        assert len(graph_calls(m)) == 3


def test_paginate_refuses_next_link_to_another_host():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users", json={"value": [{"id": 1}], "@odata.nextLink": "https://evil.example.com/v1.0/users?x=1"})
        pages = make_hook().paginate("/users")
        assert next(pages) == {"id": 1}
        with pytest.raises(errors.GraphError, match="Refusing to follow"):
            next(pages)
        assert not any("evil" in r.url for r in m.request_history)


def test_retry_after_is_honoured_then_backoff_without_header():
    sleeps: list[float] = []
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users/u1/events", [
            {"status_code": 429, "headers": {"Retry-After": "0.75"}, "json": {}},
            {"status_code": 503, "json": {}},
            {"status_code": 504, "json": {}},
            {"json": {"value": []}},
        ])
        assert make_hook(sleeps).get("/users/u1/events") == {"value": []}
    assert sleeps[0] == 0.75
    assert 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0  # jittered, doubling per attempt


def test_throttling_gives_up_after_bounded_attempts():
    sleeps: list[float] = []
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users/u1/events", status_code=429, headers={"Retry-After": "1"}, json={})
        with pytest.raises(errors.ThrottledError):
            make_hook(sleeps).get("/users/u1/events")
    assert sleeps == [1.0] * 4  # 5 attempts


def test_connection_error_retried_for_get_but_not_for_plain_post():
    import requests

    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users/u1/events", [{"exc": requests.ConnectionError}, {"json": {"value": []}}])
        m.post(f"{GRAPH}/users/u1/events", exc=requests.ConnectTimeout)
        hook = make_hook()
        assert hook.get("/users/u1/events") == {"value": []}
        with pytest.raises(errors.GraphError, match="not retried"):
            hook.post("/users/u1/events", {"subject": "x"})
        assert sum(1 for r in m.request_history if r.method == "POST" and "/events" in r.url) == 1
        m.post(f"{GRAPH}/users/u1/events", [{"exc": requests.ConnectTimeout}, {"status_code": 201, "json": {"id": "e"}}])
        assert hook.post("/users/u1/events", {"subject": "x", "transactionId": "t-1"}) == {"id": "e"}


def test_hook_limiter_holds_graph_calls_to_four_per_mailbox():
    # requests-mock serialises all sends, so this test gives the hook a session that really overlaps.
    active, peak, lock = [0], [0], threading.Lock()

    class SlowSession:
        def request(self, method, url, **kwargs):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.01)
            with lock:
                active[0] -= 1
            response = requests.Response()
            response.status_code, response._content = 200, b'{"value": []}'
            return response

    hook = make_hook()
    hook._session = SlowSession()
    hook.get_token = lambda force_refresh=False: "token"
    threads = [threading.Thread(target=hook.get, args=("/users/u1/events",)) for _ in range(16)]
    threads += [threading.Thread(target=hook.get, args=("/users/u2/events",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hook.limiter.peak["u1"] == 4 and hook.limiter.peak["u2"] <= 4
    assert peak[0] >= 5  # two mailboxes do overlap: the limit is per mailbox, not global


def test_a_refused_token_request_raises_the_translated_error():
    """The wording of each AADSTS code is tested in tests/unit/graph/test_errors.py; here: the hook uses it."""
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000222],
                                                  "error_description": "AADSTS7000222: boom"})
        with pytest.raises(errors.SecretExpiredError) as exc:
            make_hook().get_token()
    assert "Create a new client secret" in str(exc.value) and "office365_default" in str(exc.value)
    assert SECRET not in str(exc.value)


def test_unknown_tenant_in_discovery_is_explained():
    with requests_mock.Mocker() as m:
        m.get(DISCOVERY, status_code=400, json={"error": "invalid_tenant", "error_codes": [90002]})
        with pytest.raises(errors.AuthenticationError, match="AADSTS90002"):
            make_hook().get_token()


def test_a_graph_error_answer_raises_the_translated_error_with_the_mailbox():
    """The wording of each Graph error is tested in tests/unit/graph/test_errors.py; here: the hook passes
    status, body, method, path and the path's mailbox to it."""
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users/u1/events", status_code=403, json={"error": {
            "code": "ErrorAccessDenied", "message": "Access to OData is disabled"}})
        with pytest.raises(errors.MailboxAccessDeniedError) as exc:
            make_hook().get("/users/u1/events")
    assert "Access to mailbox u1 is denied" in str(exc.value) and exc.value.status == 403


def test_secrets_never_reach_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    with requests_mock.Mocker() as m:
        mock_entra(m, tokens=("eyJ0eXAi.secret-access-token.sig",))
        m.get(f"{GRAPH}/users", status_code=403, json={"error": {"code": "Authorization_RequestDenied"}})
        hook = make_hook()
        with pytest.raises(errors.PermissionMissingError) as exc:
            hook.get("/users")
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000215]})
        with pytest.raises(errors.AuthenticationError) as exc2:
            make_hook().get_token()
    text = caplog.text + str(exc.value) + str(exc2.value) + repr(hook.settings)
    assert SECRET not in text and "secret-access-token" not in text
    assert len(caplog.records) > 0  # msal and urllib3 did log; none of it carries a secret


def app_token(*roles: str) -> str:
    """An app-only access token as Entra shapes it: a JWT whose `roles` claim holds the consented permissions."""
    import base64

    claims = {"aud": "https://graph.microsoft.com", "idtyp": "app", **({"roles": list(roles)} if roles else {})}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{body}.c2ln"


def mock_tenant(m, *roles: str) -> None:
    mock_entra(m, tokens=(app_token(*roles),) * 3)
    m.get(f"{GRAPH}/users", json={"value": [
        {"id": "u1", "userPrincipalName": "a@x.de", "assignedPlans": []},
        {"id": "0e6b6c52-9d55-4c0e-8d2b-6a4a1e2f3b4c", "userPrincipalName": "b@x.de",
         "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}]}]})
    m.get(f"{GRAPH}/users/0e6b6c52-9d55-4c0e-8d2b-6a4a1e2f3b4c/calendar", json={"id": "cal"})


def test_test_connection_reports_permissions_from_the_token_and_the_expiry():
    with requests_mock.Mocker() as m:
        mock_tenant(m, "User.Read.All", "Calendars.ReadWrite")
        ok, message = make_hook(credential_valid_until="2099-01-31").test_connection()
        assert not any("/applications" in r.url for r in m.request_history)  # not granted: not even asked
    assert ok, message
    assert message.startswith("Connection OK: 11 of 12 steps of the setup checked (1 could not be: "
                              "5 'Permission type Application (not Delegated)'), 0 warning(s).")
    assert " 7. OK Calendars.ReadWrite" in message and "10. OK A mailbox reachable (Exchange Online)" in message
    assert "12. OPTIONAL Application.Read.All (optional)" in message and len(message.splitlines()) == 13


def test_test_connection_never_claims_a_permission_the_token_lacks():
    """Issue 22: with Calendars.Read picked in step 9, Test said "Calendars.ReadWrite ok" after reading a calendar."""
    with requests_mock.Mocker() as m:
        mock_tenant(m, "User.Read.All", "Calendars.Read")
        ok, message = make_hook(credential_valid_until="2099-01-31").test_connection()
    assert not ok
    assert message.startswith("Setup incomplete: check 7 'Calendars.ReadWrite' failed (guide: Grant permissions, step 9)")
    assert "Calendars.ReadWrite ok" not in message and " 7. FAILED Calendars.ReadWrite" in message


def _application(*secrets: tuple[str, str, str]) -> dict:
    return {"id": "obj", "passwordCredentials": [
        {"customKeyIdentifier": None, "displayName": name, "endDateTime": ends, "hint": hint, "keyId": f"k-{name}",
         "secretText": None, "startDateTime": "2024-11-26T10:00:00Z"} for name, hint, ends in secrets]}


@pytest.mark.parametrize(("typed", "secrets", "until", "note"), [
    # Entra's date for the secret whose hint matches; the expired one of an earlier setup is ignored
    ("2099-01-31", [("alt", "old", "2020-01-01T00:00:00Z"), ("Zugang openHandwerk", SECRET[:3], "2099-01-31T09:00:00Z")],
     dt.date(2099, 1, 31), None),
    # a typo in the connection: Entra's date is watched and the admin told
    ("2099-03-01", [("Zugang openHandwerk", SECRET[:3], "2099-01-31T09:00:00Z")], dt.date(2099, 1, 31),
     "says the client secret is valid until 2099-03-01, but Entra lists 'Zugang openHandwerk' (ID k-Zugang "
     "openHandwerk) as valid until 2099-01-31"),
    # no date typed: Entra's is enough
    (None, [("Zugang openHandwerk", SECRET[:3], "2099-01-31T09:00:00Z")], dt.date(2099, 1, 31), "has no date"),
    # 23:30 UTC is the next day in Germany, as the admin center shows it there
    (None, [("Zugang openHandwerk", SECRET[:3], "2099-01-31T23:30:00Z")], dt.date(2099, 2, 1), "has no date"),
    # two secrets alike: the earlier end counts
    (None, [("a", SECRET[:3], "2099-05-01T00:00:00Z"), ("b", SECRET[:3], "2099-02-01T00:00:00Z")],
     dt.date(2099, 2, 1), "'b' (ID k-b) or 1 more alike"),
    # nothing matches this connection's secret: keep the typed date, say so
    ("2099-03-01", [("other", "xyz", "2099-01-31T09:00:00Z")], dt.date(2099, 3, 1), "lists no credential"),
])
def test_the_expiry_is_read_from_entra_when_permitted(typed, secrets, until, note):
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/applications(appId='{CLIENT}')", json=_application(*secrets))
        extra = {"credential_valid_until": typed} if typed else {}
        expiry = make_hook(**extra).watched_expiry()
        assert "select=passwordCredentials%2CkeyCredentials" in m.last_request.url
    assert expiry.valid_until == until and expiry.readable
    assert (expiry.note is None) if note is None else (note in expiry.note)
    assert SECRET[:3] not in (expiry.note or "")  # the hint is part of the secret: never shown


def test_test_connection_fails_with_the_reason():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000222]})
        ok, message = make_hook().test_connection()
    assert not ok and "AADSTS7000222" in message


def test_secret_and_token_are_registered_with_the_masker():
    from tests.airflow_lines import secrets_masker
    redact = secrets_masker.redact

    with requests_mock.Mocker() as m:
        mock_entra(m, tokens=("eyJ0eXAi.registered-token.sig",))
        make_hook().get_token()
    assert redact(f"a {SECRET} b eyJ0eXAi.registered-token.sig c") == "a *** b *** c"


def test_certificate_key_is_registered_with_the_masker():
    from tests.airflow_lines import secrets_masker
    redact = secrets_masker.redact

    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-unit-test-key\n-----END PRIVATE KEY-----"
    hook = make_hook(certificate_private_key=pem, certificate_thumbprint="AB" * 20)
    assert hook.settings.certificate_private_key == pem
    assert "unit-test-key" not in redact(f"key: {pem}")


def test_secrets_are_registered_once_not_on_every_request(monkeypatch):
    import airflow.sdk.log

    calls: list[str] = []
    real = airflow.sdk.log.mask_secret
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", lambda value, name=None: (calls.append(value), real(value)))
    with requests_mock.Mocker() as m:
        mock_entra(m, tokens=("eyJ0eXAi.once-only-token.sig",))
        m.get(f"{GRAPH}/users", json={"value": []})
        hook = make_hook(certificate_thumbprint="AB" * 20, certificate_private_key=None)
        hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": "Zz8~registered-once-secret"})
        for _ in range(5):
            hook.get("/users")
    assert calls.count("Zz8~registered-once-secret") == 1
    assert calls.count("eyJ0eXAi.once-only-token.sig") == 1


def test_a_wrong_secret_in_the_forms_test_names_no_random_connection_id():
    """Issue 13 item 3: Airflow tests a copy under a random id ('jbAt6RMJ'); the message said
    "Airflow connection 'jbAt6RMJ'". The form's Test says "this connection"; a run names the real one."""
    from types import SimpleNamespace

    from oh_outlook_provider.exceptions import AuthenticationError
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.settings import office365_settings
    from tests.unit.support.graph_mock import TENANT

    conn = SimpleNamespace(conn_id="jbAt6RMJ", login=CLIENT, password=SECRET, extra=json.dumps({"tenant_id": TENANT}))
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000215]})
        ok, message = Office365Hook(settings=office365_settings(conn)).test_connection()
        assert not ok and "AADSTS7000215" in message and "jbAt6RMJ" not in message and "this connection" in message
        with pytest.raises(AuthenticationError, match="Airflow connection 'jbAt6RMJ'"):
            Office365Hook(settings=office365_settings(conn)).get_token()


def test_entra_failing_to_answer_keeps_the_typed_date_and_says_so():
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/applications(appId='{CLIENT}')", status_code=500, json={"error": {"code": "InternalServerError"}})
        expiry = make_hook(credential_valid_until="2099-03-01", sleeps=[]).watched_expiry()
    assert expiry.valid_until == dt.date(2099, 3, 1) and expiry.source == "the connection"
    assert expiry.note.startswith("Reading the expiry from Entra failed")


def test_a_refused_link_is_explained_in_german_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    with requests_mock.Mocker() as m:
        mock_entra(m)
        m.get(f"{GRAPH}/users", json={"value": [], "@odata.nextLink": "https://evil.example.com/v1.0/users?x=1"})
        with pytest.raises(errors.GraphError, match="Einem Link zu https://evil.example.com wird nicht gefolgt"):
            list(make_hook().paginate("/users"))


@pytest.mark.parametrize(("not_after", "day"), [
    (dt.datetime(2027, 6, 18, 22, 30, tzinfo=dt.UTC), dt.date(2027, 6, 19)),  # 00:30 in Berlin (summer time)
    (dt.datetime(2027, 1, 18, 22, 30, tzinfo=dt.UTC), dt.date(2027, 1, 18)),  # 23:30 in Berlin
])
def test_a_certificates_expiry_is_the_day_entra_shows_in_berlin_not_the_utc_day(monkeypatch, not_after, day):
    """Bug: the certificate's notAfter counted as its UTC day, Entra's date (`expiry_in_entra`) as its Berlin
    day, so between 22:00 and midnight UTC the two disagreed by one day and the check reported a wrong date
    typed on the connection (a test failed only in those hours)."""
    from oh_outlook_provider.graph import credentials

    monkeypatch.setattr(credentials, "certificate_not_after", lambda pem: not_after)
    hook = make_hook(certificate_private_key="-----BEGIN PRIVATE KEY-----", certificate_thumbprint="AB" * 20)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "client_secret": None, "valid_until": None})
    assert hook.credential_valid_until() == day
