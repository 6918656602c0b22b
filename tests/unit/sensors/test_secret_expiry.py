"""Office365SecretExpirySensor with frozen time: poke, rotation, deferral to its trigger and completion."""

from __future__ import annotations

import asyncio
import json

import pendulum
import pytest

from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor
from oh_outlook_provider.triggers.secret_expiry import SecretExpiryTrigger
from oh_outlook_provider.version_compat import AirflowException, TaskDeferred
from tests.unit.support.connections import SECRET, set_office365_connection


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
    set_office365_connection(monkeypatch, valid_until)
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False)
    with pendulum.travel_to(pendulum.parse(frozen + "T09:00:00+01:00"), freeze=True):
        assert sensor.poke({}) is passes
    logged = capsys.readouterr().out  # Airflow's task logger (structlog) writes to stdout here
    assert phrase in logged and SECRET not in logged


def test_sensor_passes_after_rotation(monkeypatch):
    set_office365_connection(monkeypatch, "2026-12-01")
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False)
    with pendulum.travel_to(pendulum.datetime(2026, 11, 26, 9, tz="Europe/Berlin"), freeze=True):
        assert not sensor.poke({})
        set_office365_connection(monkeypatch, "2028-11-25")  # the admin saved a new secret and its date
        assert sensor.poke({})


def test_deferrable_sensor_defers_to_trigger_and_completes(monkeypatch):
    set_office365_connection(monkeypatch, "2026-12-01")
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False,
                                         deferrable=True, poke_interval=0.01, timeout=60)
    with pendulum.travel_to(pendulum.datetime(2026, 11, 26, 9, tz="Europe/Berlin"), freeze=True):
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, SecretExpiryTrigger) and deferred.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert SecretExpiryTrigger(**kwargs).serialize() == (path, kwargs)
    assert SECRET not in json.dumps(kwargs)
    assert kwargs["min_valid_for_seconds"] == 30 * 86400 and kwargs["check_token"] is False

    async def first_event():
        set_office365_connection(monkeypatch, "2028-11-25")  # rotation happens while deferred
        return await trigger.run().__anext__()

    event = asyncio.run(first_event())
    assert event.payload["status"] == "ok"
    sensor.execute_complete({}, event.payload)
    with pytest.raises(AirflowException, match="still not valid"):
        sensor.execute_complete({}, {"status": "timeout", "message": "expired"})


def test_a_deferrable_sensor_that_passes_at_once_does_not_defer(monkeypatch):
    set_office365_connection(monkeypatch, "2099-01-01")
    sensor = Office365SecretExpirySensor(task_id="s", office365_conn_id="o365_expiry", check_token=False,
                                         deferrable=True)
    assert sensor.execute({}) is None


def test_the_default_poke_interval_is_an_hour_and_can_be_given():
    assert Office365SecretExpirySensor(task_id="s").poke_interval == 3600
    assert Office365SecretExpirySensor(task_id="s", poke_interval=60).poke_interval == 60
