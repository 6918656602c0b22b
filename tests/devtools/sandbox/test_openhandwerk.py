"""The emulated openHandwerk API through OpenHandwerkHook, and determinism of the seed."""

from __future__ import annotations

import ast
import datetime as dt
import os
from pathlib import Path

import pytest

from devtools import with_checkout_on_path
from devtools.sandbox import control, oh_fields
from devtools.sandbox.openhandwerk import handle
from devtools.sandbox.seed import build_seed
from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.sync.models import Appointment, Rejected
from tests.conftest import BASE_DATE, oh_hook


@pytest.fixture
def sandbox(tenant):
    """openHandwerk's API is the same under both Graph behaviour bundles (tests/conftest.py BEHAVIOURS differ
    only in Graph's events, categories and $batch): these tests run once each."""
    return tenant


def test_login_envelope_and_paging(sandbox):
    hook = oh_hook(sandbox, page_size=5)
    employees = list(hook.iter_employees())
    assert len(employees) == 12 and hook.requests_made >= 4  # login + 3 pages
    start = dt.datetime.combine(BASE_DATE - dt.timedelta(days=30), dt.time(), dt.UTC)
    records = list(hook.iter_appointments(start, start + dt.timedelta(days=120)))
    ids = [r.record_id if isinstance(r, Rejected) else r.id for r in records]
    assert len(ids) == len(set(ids)) == len(sandbox.state.appointments)
    rejected = {r.record_id: r.reason for r in records if isinstance(r, Rejected)}
    assert set(rejected) == {"T-BAD-1", "T-BAD-2"}
    assert isinstance(hook.get_appointment("T-10001"), Appointment) and hook.get_appointment("T-0") is None


def test_wrong_password_is_an_envelope_error(sandbox):
    hook = oh_hook(sandbox)
    hook._settings = type(hook.settings)(**{**hook.settings.__dict__, "password": "falsch"})
    with pytest.raises(OpenHandwerkError, match="Login fehlgeschlagen"):
        hook.login()


def test_expired_token_triggers_relogin(sandbox):
    hook = oh_hook(sandbox)
    hook._token = "expired.or.garbage"
    assert len(list(hook.iter_employees())) == 12


def test_same_seed_same_data_and_realistic_content():
    a, b = build_seed(7, 20, 10, BASE_DATE), build_seed(7, 20, 10, BASE_DATE)
    assert a.appointments == b.appointments and [u.id for u in a.users] == [u.id for u in b.users]
    assert build_seed(8, 20, 10, BASE_DATE).appointments != a.appointments
    text = " ".join(str(x.get("title")) for x in a.appointments)
    assert any(ch in text for ch in "äöüß")
    assert any(x.get("allDay") and x["start"] != x["end"] for x in a.appointments)  # multi-day
    assert any(len(x.get("employees") or []) > 1 for x in a.appointments)
    assert any(x.get("status") == "storniert" for x in a.appointments)
    assert any(str(x.get("start", "")).startswith("2026-03-29") for x in a.appointments)  # DST day


def test_sandbox_cli_serves_and_prints_settings(tmp_path):
    import json
    import subprocess
    import sys
    import time

    import requests

    settings = tmp_path / "settings.json"
    proc = subprocess.Popen([sys.executable, "-m", "devtools.sandbox", "serve", "--port", "0", "--tls-dir",
                             str(tmp_path), "--settings-file", str(settings)], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=with_checkout_on_path(os.environ))  # found from any directory
    try:
        for _ in range(200):
            if settings.exists() and settings.stat().st_size:
                break
            time.sleep(0.05)
        data = json.loads(settings.read_text())
        assert "AIRFLOW_CONN_OFFICE365_DEFAULT" in data and (tmp_path / "ca.pem").exists()
        for _ in range(100):
            try:
                stats = requests.get(f"{data['base_url']}/_sandbox/stats", verify=data["ca_bundle"], timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert stats.status_code == 200 and stats.json()["invitations_sent"] == 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "export AIRFLOW_CONN_OFFICE365_DEFAULT=" in out


def test_the_emulator_speaks_its_own_vocabulary_not_the_clients_parser():
    """It serves one spelling per field, its own: a client reading another spelling fails against it."""
    sandbox_dir = Path(oh_fields.__file__).parent
    for module in sandbox_dir.glob("*.py"):
        imported = {n.module for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not any(name and name.startswith("oh_outlook_provider.openhandwerk") for name in imported), module.name
    data = build_seed(seed=3, employees=12, appointments_per_employee=4, base_date=BASE_DATE)
    assert all(set(a) <= set(oh_fields.APPOINTMENT_FIELDS) for a in data.appointments)
    assert all(set(e) == set(oh_fields.EMPLOYEE_FIELDS) for e in data.employees)


def test_the_range_filter_reads_only_the_emulators_start_spelling(sandbox):
    """A record spelled as the client also accepts ("beginn") has no start the emulator knows: listed in every range."""
    state = sandbox.state
    control.oh_change(state, "new", record={"id": "T-SPELL", "title": "x", "beginn": "2000-01-01T08:00:00",
                                            "employees": ["M-001"]})
    status, login = handle(state, "POST", "/auth/login", {}, {},
                           {"idKn": "4711", "employee": "api-sync", "password": "sbx-oh-password"})
    headers = {"authorization": "Bearer " + login["response"][oh_fields.TOKEN]}
    window = {oh_fields.RANGE_FROM: "2026-03-01T00:00:00", oh_fields.RANGE_TO: "2026-03-02T00:00:00",
              oh_fields.LIMIT: "500"}
    status, body = handle(state, "GET", "/appointments", window, headers, None)
    assert status == 200 and "T-SPELL" in [a["id"] for a in body["response"]]
