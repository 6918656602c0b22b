"""OpenHandwerkHook against requests-mock: login, re-login, envelope errors, paging, retries."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
import requests_mock

from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
from oh_outlook_provider.hooks.retry import RetryPolicy
from oh_outlook_provider.hooks.settings import openhandwerk_settings
from oh_outlook_provider.sync.models import Appointment, Rejected

BASE = "https://api.oh.example/api"


def ok(payload):
    return {"success": True, "response": payload, "status": 200}


def make_hook(sleeps=None, **extra):
    conn = SimpleNamespace(conn_id="openhandwerk_default", host=BASE, login="api-user", password="oh-Passw0rd!",
                           extra=json.dumps({"id_kn": "4711", "page_size": 2, **extra}))
    return OpenHandwerkHook(settings=openhandwerk_settings(conn),
                            retry_policy=RetryPolicy(max_attempts=4, retry_after_jitter=0,
                                                     sleep=(sleeps if sleeps is not None else []).append))


def test_login_sends_documented_fields_and_token_is_reused():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "jwt-1"}))
        m.get(f"{BASE}/employees", json=ok([{"id": "M-1", "email": "a@b.de"}]))
        hook = make_hook()
        assert [e.id for e in hook.iter_employees()] == ["M-1"]
        assert [e.id for e in hook.iter_employees()] == ["M-1"]
        logins = [r for r in m.request_history if r.path.endswith("/auth/login")]
        assert len(logins) == 1
        assert logins[0].json() == {"idKn": "4711", "employee": "api-user", "password": "oh-Passw0rd!"}
        assert m.request_history[-1].headers["Authorization"] == "Bearer jwt-1"


def test_relogin_once_on_401():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", [{"json": ok({"token": "old"})}, {"json": ok({"token": "new"})}])
        m.get(f"{BASE}/employees", [{"status_code": 401, "json": {"success": False, "response": "Token abgelaufen",
                                                                  "status": 401}},
                                    {"json": ok([])}])
        assert list(make_hook().iter_employees()) == []
        assert [r.headers.get("Authorization") for r in m.request_history if r.method == "GET"] == [
            "Bearer old", "Bearer new"]


def test_envelope_failure_with_http_200_is_an_error_with_the_message():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/employees", json={"success": False, "response": "Keine Berechtigung für Mitarbeiter",
                                         "status": 403})
        with pytest.raises(OpenHandwerkError, match="Keine Berechtigung für Mitarbeiter"):
            list(make_hook().iter_employees())


def test_wrong_password_names_the_fix_and_hides_the_password():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", status_code=401, json={"success": False, "response": "Login fehlgeschlagen",
                                                            "status": 401})
        with pytest.raises(OpenHandwerkError) as exc:
            make_hook().login()
    assert "check API user and password" in str(exc.value) and "oh-Passw0rd!" not in str(exc.value)


def test_paging_until_a_short_page_and_range_in_local_time():
    pages = [[{"id": "T-1", "title": "a", "start": "2026-03-02T08:00:00", "end": "2026-03-02T09:00:00"},
              {"id": "T-2", "title": "b", "start": "2026-03-02", "allDay": True}],
             [{"id": "T-3", "title": "c", "start": None}]]
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/appointments", [{"json": ok(p)} for p in pages])
        start = dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC)
        records = list(make_hook().iter_appointments(start, start + dt.timedelta(days=1)))
        gets = [r for r in m.request_history if r.method == "GET"]
    assert [r.qs["page"] for r in gets] == [["1"], ["2"]]
    assert gets[0].qs["from"] == ["2026-03-02t00:00:00"]  # Berlin wall-clock time (query values lower-cased)
    assert [type(r) for r in records] == [Appointment, Appointment, Rejected]
    assert records[2].record_id == "T-3" and "no start" in records[2].reason


def test_retries_on_503_with_retry_after():
    sleeps = []
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/employees", [{"status_code": 503, "headers": {"Retry-After": "1.5"}, "json": {}},
                                    {"json": ok([])}])
        assert list(make_hook(sleeps).iter_employees()) == []
    assert sleeps == [1.5]


def test_get_appointment_404_means_gone():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/appointments/T-9", status_code=404, json={"success": False, "response": "Termin nicht gefunden",
                                                                 "status": 404})
        assert make_hook().get_appointment("T-9") is None


def test_path_overrides_are_used():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/mitarbeiter", json=ok([]))
        hook = make_hook(paths={"login": "/login", "employees": "/mitarbeiter"})
        assert list(hook.iter_employees()) == []


def test_non_envelope_answer_is_explained():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", status_code=404, text="<html>Not Found</html>")
        with pytest.raises(OpenHandwerkError, match="check the API base URL"):
            make_hook().login()


def test_test_connection_walks_the_checklist():
    """Issue 22: login, one employee and one appointment readable, each a line of the list."""
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/employees", json=ok([{"id": "1"}]))
        m.get(f"{BASE}/appointments", json=ok([]))
        ok_, message = make_hook().test_connection()
    assert ok_ and message.startswith("Connection OK: all 5 steps of the setup checked, 1 warning(s).")
    assert " 3. OK Login of the API user" in message and " 5. WARNING An appointment readable" in message
    assert "no appointment from 30 days ago to 60 days ahead" in message  # the first warning, with its detail


def test_test_connection_names_the_failed_login_and_checks_nothing_after_it():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", status_code=401, json={"success": False, "response": "bad login", "status": 401})
        ok_, message = make_hook().test_connection()
    assert not ok_ and message.startswith("Setup incomplete: check 3 'Login of the API user' failed")
    assert "check API user and password" in message and message.count("NOT CHECKED") == 2
    assert "oh-Passw0rd!" not in message


def test_password_and_token_are_registered_with_the_masker():
    from tests.airflow_lines import secrets_masker
    redact = secrets_masker.redact

    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "oh-jwt-registered-1"}))
        make_hook().login()
    assert redact("oh-Passw0rd! oh-jwt-registered-1") == "*** ***"


def test_get_appointment_trusts_only_the_api_s_own_404_and_only_the_record_asked_for():
    """Issue 11 item 9: a 404 from a wrong path or a proxy, or another record's answer, never means "deleted"."""
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/appointments/T-9", status_code=404, text="<html>Not Found</html>")
        with pytest.raises(OpenHandwerkError, match="without the response envelope"):
            make_hook().get_appointment("T-9")
        m.get(f"{BASE}/appointments/T-8", json=ok({"id": "T-7", "title": "x", "start": "2026-03-02T08:00",
                                                   "end": "2026-03-02T09:00"}))
        answer = make_hook().get_appointment("T-8")
        assert isinstance(answer, Rejected) and answer.record_id == "T-8" and "answered appointment 'T-7'" in answer.reason


def test_ids_are_encoded_as_one_path_segment():
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", json=ok({"token": "t"}))
        m.get(f"{BASE}/appointments/T%2F..%2F1%3F%23%7C", json=ok({"id": "T/../1?#|", "title": "x",
                                                                    "start": "2026-03-02T08:00", "end": "2026-03-02T09:00"}))
        assert make_hook().get_appointment("T/../1?#|").id == "T/../1?#|"
        assert m.request_history[-1].path.endswith("/appointments/t%2f..%2f1%3f%23%7c")


def test_the_admin_reads_the_wrong_password_in_german_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    with requests_mock.Mocker() as m:
        m.post(f"{BASE}/auth/login", status_code=401, json={"success": False, "response": "Login fehlgeschlagen",
                                                            "status": 401})
        with pytest.raises(OpenHandwerkError) as exc:
            make_hook().login()
    assert str(exc.value) == ("openHandwerk POST /auth/login fehlgeschlagen (HTTP 401, Status 401): Login fehlgeschlagen"
                              " - prüfe API-Benutzer und Passwort der openHandwerk-Verbindung.")
