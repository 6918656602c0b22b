"""OpenHandwerkAppointmentsOperator: one read into the run's file, rejected records logged once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.hooks import openhandwerk as openhandwerk_hook
from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator, rejected_report
from oh_outlook_provider.runners.appointments import Snapshot
from oh_outlook_provider.sync.models import Appointment, Rejected
from oh_outlook_provider.version_compat import AirflowException, AirflowFailException

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN)
RECORDS = [Appointment("T-1", "Wartung", START, START + dt.timedelta(hours=1), employee_ids=("M-1",)),
           Rejected("T-2", "start is missing")]


class FakeOpenHandwerk:
    instances: list = []

    def __init__(self, conn_id, records=RECORDS, error=None):
        self.conn_id, self.records, self.error = conn_id, records, error
        self.settings = SimpleNamespace(timezone="Europe/Berlin")
        self.requests_made, self.asked = 1, None
        FakeOpenHandwerk.instances.append(self)

    def iter_appointments(self, start, end):
        self.asked = (start, end)
        if self.error:
            raise self.error
        yield from self.records


@pytest.fixture
def fake_hook(monkeypatch):
    FakeOpenHandwerk.instances = []
    monkeypatch.setattr(openhandwerk_hook, "OpenHandwerkHook", FakeOpenHandwerk)
    return FakeOpenHandwerk


def test_the_window_is_read_once_into_the_runs_file(fake_hook, tmp_path, capsys):
    operator = OpenHandwerkAppointmentsOperator(task_id="read", openhandwerk_conn_id="oh", snapshot_base=f"file://{tmp_path}",
                                                window_start="2026-03-01T00:00:00+00:00",
                                                window_end="2026-03-08T00:00:00+00:00")
    descriptor = operator.execute({"run_id": "scheduled__2026-03-01"})
    hook = fake_hook.instances[0]
    assert hook.conn_id == "oh" and hook.asked == (dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                                                   dt.datetime(2026, 3, 8, tzinfo=dt.UTC))
    assert descriptor["appointments"] == 1 and descriptor["rejected_total"] == 1
    assert list(Snapshot.of(descriptor).appointments()) == RECORDS[:1]
    assert "scheduled__2026-03-01" in descriptor["path"] and str(tmp_path) in descriptor["path"]
    logged = capsys.readouterr().out
    assert "01.03.2026 01:00 to 08.03.2026 01:00 (Europe/Berlin)" in logged
    assert "rejected appointment T-2: start is missing" in logged


@pytest.mark.parametrize(("error", "failure"), [(OpenHandwerkError("wrong password", 401), AirflowFailException),
                                                (OpenHandwerkError("down", 503), AirflowException)])
def test_an_openhandwerk_error_ends_the_task_by_its_kind(monkeypatch, tmp_path, error, failure):
    monkeypatch.setattr(openhandwerk_hook, "OpenHandwerkHook", lambda conn_id: FakeOpenHandwerk(conn_id, error=error))
    operator = OpenHandwerkAppointmentsOperator(task_id="read", snapshot_base=f"file://{tmp_path}")
    with pytest.raises(failure) as raised:
        operator.execute({})
    assert type(raised.value) is failure and str(raised.value) == str(error)


def test_the_report_lists_what_xcom_carries_and_counts_the_rest():
    descriptor = {"rejected": [{"record_id": "T-1", "reason": "bad"}], "rejected_total": 3}
    assert rejected_report(descriptor) == ["rejected appointment T-1: bad", "... and 2 more"]
    assert rejected_report({"rejected": [{"record_id": "T-1", "reason": "bad"}], "rejected_total": 1}) == [
        "rejected appointment T-1: bad"]
    assert rejected_report({}) == []


def test_window_arguments_are_templated():
    assert {"window_start", "window_end", "past", "future", "snapshot_base"} <= set(
        OpenHandwerkAppointmentsOperator.template_fields)
