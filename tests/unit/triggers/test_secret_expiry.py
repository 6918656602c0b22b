"""SecretExpiryTrigger: its classpath and arguments, and run() against a patched check and requests-mock."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import threading

import pytest
import requests_mock

from oh_outlook_provider.graph.credentials import Assessment
from oh_outlook_provider.triggers import secret_expiry as trigger_module
from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger
from tests.unit.support import graph_mock
from tests.unit.support.connections import set_office365_connection

LATER = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


def _events(trigger: SecretExpiryTrigger) -> list:
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def _checks(monkeypatch, *results: Assessment) -> list[float]:
    """The trigger's check answers `results` in turn; returns the sleeps it asked for."""
    answers, sleeps, real_sleep, test_thread = list(results), [], asyncio.sleep, threading.get_ident()

    async def check_once(self):
        return answers.pop(0)

    async def sleep(seconds, *args):
        # asyncio.sleep is one function for every event loop in the process: a sandbox server's loop in
        # another thread (a session fixture) keeps its own ticks, only the trigger's are recorded.
        if threading.get_ident() != test_thread:
            return await real_sleep(seconds, *args)
        sleeps.append(seconds)

    monkeypatch.setattr(SecretExpiryTrigger, "check_once", check_once)
    monkeypatch.setattr(trigger_module.asyncio, "sleep", sleep)
    return sleeps


def test_the_classpath_is_the_one_stored_in_airflows_trigger_table():
    trigger = SecretExpiryTrigger("o365", 86400.0, 60.0, LATER, check_token=False)
    path, kwargs = trigger.serialize()
    assert path == "oh_outlook_provider.triggers.secret_expiry.SecretExpiryTrigger"
    assert kwargs == {"office365_conn_id": "o365", "min_valid_for_seconds": 86400.0, "poke_interval": 60.0,
                      "timeout_at": LATER, "check_token": False}
    assert SecretExpiryTrigger(**kwargs).serialize() == (path, kwargs)


def test_run_checks_again_after_the_poke_interval_until_the_credential_is_valid(monkeypatch):
    sleeps = _checks(monkeypatch, Assessment(False, 3, "3 days left"), Assessment(False, 3, "3 days left"),
                     Assessment(True, 700, "valid until 2028-11-25 (700 days left)"))
    events = _events(SecretExpiryTrigger("o365", 86400 * 30, 42.0, LATER))
    assert [e.payload for e in events] == [{"status": "ok", "message": "valid until 2028-11-25 (700 days left)",
                                            "days_left": 700}]
    assert sleeps == [42.0, 42.0]


def test_run_ends_with_a_timeout_event_once_the_deadline_has_passed(monkeypatch):
    sleeps = _checks(monkeypatch, Assessment(False, -1, "expired yesterday"))
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    events = _events(SecretExpiryTrigger("o365", 0, 42.0, past))
    assert [e.payload for e in events] == [{"status": "timeout", "message": "expired yesterday"}]
    assert sleeps == []


def test_the_note_and_the_failure_reach_the_triggerer_log_wrapped(monkeypatch, capsys):
    note = "The connection 'o365' says the client secret is valid until 2027-03-01, but Entra lists " * 2
    _checks(monkeypatch, Assessment(False, 5, "5 days left", note=note), Assessment(True, 40, "fine", note=None))
    _events(SecretExpiryTrigger("o365", 0, 0.0, LATER))
    logged = capsys.readouterr().out  # Airflow's logger (structlog) writes to stdout here
    assert "Expiry date:" in logged and "5 days left" in logged
    assert "Entra lists The\n    connection 'o365'" in logged  # wrapped at the log view's width


def test_trigger_times_out_with_the_message(monkeypatch):
    set_office365_connection(monkeypatch, "2020-01-01")
    trigger = SecretExpiryTrigger("o365_expiry", 0, 0.01, dt.datetime.now(dt.UTC).isoformat(), check_token=False)
    event = asyncio.run(trigger.run().__anext__())
    assert event.payload["status"] == "timeout" and "expired on 2020-01-01" in event.payload["message"]


def test_an_expired_secret_entra_refuses_is_expired_whatever_the_connection_says(monkeypatch):
    set_office365_connection(monkeypatch, "2099-01-01", tenant=graph_mock.TENANT, login=graph_mock.CLIENT,
                             password=graph_mock.SECRET)
    with requests_mock.Mocker() as m:
        graph_mock.mock_entra(m)
        m.post(graph_mock.TOKEN_URL, status_code=401, json={"error": "invalid_client", "error_codes": [7000222]})
        past = dt.datetime.now(dt.UTC).isoformat()
        events = _events(SecretExpiryTrigger("o365_expiry", 0, 0.01, past, check_token=True))
    assert events[0].payload["status"] == "timeout" and "AADSTS7000222" in events[0].payload["message"]
    assert graph_mock.SECRET not in events[0].payload["message"]


@pytest.mark.parametrize("module", ["oh_outlook_provider.triggers.secret_expiry"])
def test_the_trigger_never_imports_the_sensor(module):
    """As in Airflow's msgraph package: sensor -> trigger -> check, never back (no hidden cycle)."""
    code = f"import sys, {module}; print(any(m.startswith('oh_outlook_provider.sensors') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
