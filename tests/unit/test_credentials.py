"""Secret-expiry assessment and the sensor, with frozen time; the window rule."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest

from devtools.sandbox.tls import make_client_certificate
from oh_outlook_provider.graph.credentials import assess, certificate_not_after
from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor
from oh_outlook_provider.sync.window import resolve_window

TODAY = dt.date(2026, 11, 26)
DAYS30 = dt.timedelta(days=30)


def test_assess_each_case():
    ok = assess(dt.date(2027, 6, 1), TODAY, DAYS30, "office365_default")
    assert ok.ok and ok.days_left == 187 and "valid until 2027-06-01" in ok.message
    short = assess(dt.date(2026, 12, 10), TODAY, DAYS30, "office365_default")
    assert not short.ok and short.days_left == 14 and "14 days left" in short.message
    assert "Certificates & secrets" in short.message and "office365_default" in short.message
    expired = assess(dt.date(2026, 11, 1), TODAY, dt.timedelta(0), "c")
    assert not expired.ok and "expired on 2026-11-01 (25 days ago)" in expired.message
    missing = assess(None, TODAY, DAYS30, "c")
    assert not missing.ok and "No expiry date set" in missing.message
    assert assess(None, TODAY, dt.timedelta(0), "c").ok
    by_token = assess(dt.date(2030, 1, 1), TODAY, dt.timedelta(0), "c", expired_by_token=True)
    assert not by_token.ok and "AADSTS7000222" in by_token.message


def test_certificate_not_after_is_read_from_pem():
    key, cert, _ = make_client_certificate(days=100)
    not_after = certificate_not_after(key + cert)
    assert 98 <= (not_after - dt.datetime.now(dt.UTC)).days <= 100
    assert certificate_not_after(key) is None


def _set_conn(monkeypatch, valid_until):
    extra = {"tenant_id": "t", **({"credential_valid_until": valid_until} if valid_until else {})}
    monkeypatch.setenv("AIRFLOW_CONN_O365_EXPIRY", json.dumps(
        {"conn_type": "office365", "login": "app", "password": "s3cret-value", "extra": extra}))


@pytest.mark.parametrize(
    ("valid_until", "frozen", "passes", "phrase"),
    [
        ("2027-01-31", "2026-11-26", True, "66 days left"),
        ("2027-01-31", "2027-01-10", False, "21 days left, less than the required 30"),
        ("2027-01-31", "2027-02-02", False, "expired on 2027-01-31"),
        (None, "2026-11-26", False, "No expiry date set"),
    ],
)
def test_sensor_poke_with_frozen_time(monkeypatch, capsys, valid_until, frozen, passes, phrase):
    _set_conn(monkeypatch, valid_until)
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False)
    with pendulum.travel_to(pendulum.parse(frozen + "T09:00:00+01:00"), freeze=True):
        assert sensor.poke({}) is passes
    logged = capsys.readouterr().out  # Airflow's task logger (structlog) writes to stdout here
    assert phrase in logged and "s3cret-value" not in logged


def test_sensor_passes_after_rotation(monkeypatch):
    _set_conn(monkeypatch, "2026-12-01")
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False)
    with pendulum.travel_to(pendulum.datetime(2026, 11, 26, 9, tz="Europe/Berlin"), freeze=True):
        assert not sensor.poke({})
        _set_conn(monkeypatch, "2028-11-25")  # the admin saved a new secret and its date
        assert sensor.poke({})


def test_deferrable_sensor_defers_to_trigger_and_completes(monkeypatch):
    from airflow.sdk.exceptions import AirflowException, TaskDeferred

    from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger

    _set_conn(monkeypatch, "2026-12-01")
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False,
                                         deferrable=True, poke_interval=0.01, timeout=60)
    with pendulum.travel_to(pendulum.datetime(2026, 11, 26, 9, tz="Europe/Berlin"), freeze=True):
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, SecretExpiryTrigger) and deferred.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert SecretExpiryTrigger(**kwargs).serialize() == (path, kwargs)
    assert "s3cret-value" not in json.dumps(kwargs)

    import asyncio

    async def first_event():
        _set_conn(monkeypatch, "2028-11-25")  # rotation happens while deferred
        return await trigger.run().__anext__()

    event = asyncio.run(first_event())
    assert event.payload["status"] == "ok"
    sensor.execute_complete({}, event.payload)
    with pytest.raises(AirflowException, match="still not valid"):
        sensor.execute_complete({}, {"status": "timeout", "message": "expired"})


def test_trigger_times_out_with_the_message(monkeypatch):
    import asyncio

    from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger

    _set_conn(monkeypatch, "2020-01-01")
    trigger = SecretExpiryTrigger("o365_expiry", 0, 0.01, dt.datetime.now(dt.UTC).isoformat(), check_token=False)
    event = asyncio.run(trigger.run().__anext__())
    assert event.payload["status"] == "timeout" and "expired on 2020-01-01" in event.payload["message"]


def test_resolve_window_prefers_explicit_then_interval_then_rolling():
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    a, b = now - dt.timedelta(days=1), now
    week, quarter = dt.timedelta(days=7), dt.timedelta(days=90)
    assert resolve_window(a, b, None, None, now, week, quarter).start == a
    assert resolve_window(None, None, a, b, now, week, quarter).end == b
    rolling = resolve_window(None, None, now, now, now, week, quarter)  # zero-length interval (CronTrigger)
    assert (rolling.start, rolling.end) == (now - week, now + quarter)


def test_imports_run_one_way_sensor_to_trigger_to_check():
    """As in Airflow's msgraph package: the trigger never imports the sensor (no hidden cycle)."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, oh_outlook_provider.triggers.secret_expiry; "
            "print(any(m.startswith('oh_outlook_provider.sensors') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
    root = Path(__file__).resolve().parents[2] / "oh_outlook_provider"
    for path in (root / "triggers" / "secret_expiry.py", root / "runners" / "secret_expiry.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("oh_outlook_provider.sensors", "oh_outlook_provider.triggers")) \
                    or path.parent.name == "triggers" and node.module.endswith("credential_check"), (path, node.module)


def test_rotation_steps_are_short_numbered_lines():
    """Issue 13 item 6: the rotation warning was one line of 330 characters."""
    import datetime as dt

    from oh_outlook_provider.graph.credentials import assess

    for kind in ("client secret", "certificate"):
        message = assess(dt.date(2026, 1, 1), dt.date(2026, 11, 28), dt.timedelta(days=30), "office365_default",
                         kind).message
        assert max(map(len, message.splitlines())) <= 100 and "\n1. " in message and "\n2. " in message
