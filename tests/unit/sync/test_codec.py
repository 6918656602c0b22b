"""Appointments survive the trip through the run's appointment file unchanged."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.sync.codec import appointment_from, appointment_record, window_from, window_record
from oh_outlook_provider.sync.models import Appointment, PostalAddress, Window

BERLIN = ZoneInfo("Europe/Berlin")


def _same(a: Appointment, b: Appointment) -> bool:
    # Aware datetimes in one zone compare by wall time and ignore fold: compare instants and folds too.
    moments = [(x.start, x.end) for x in (a, b)]
    return a == b and all(
        type(p) is type(q) and (not isinstance(p, dt.datetime) or (p.utcoffset() == q.utcoffset() and p.fold == q.fold))
        for pair in zip(*moments, strict=True) for p, q in [pair])


@pytest.mark.parametrize("appointment", [
    Appointment("T-1", "Wartung Heizung", dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN),
                dt.datetime(2026, 3, 2, 10, 30, tzinfo=BERLIN), employee_ids=("M-001", "M-002"),
                location="Hauptstr. 1, 10115 Berlin", customer="Müller GmbH", category="Wartung",
                address=PostalAddress("Hauptstr. 1", "10115", "Berlin", "DE"), status="bestätigt"),
    # The repeated autumn hour: the second 02:30 (fold=1) must stay the second one.
    Appointment("T-2 |%", "Nachtdienst", dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1),
                dt.datetime(2026, 10, 25, 4, tzinfo=BERLIN), employee_ids=("M-003",)),
    Appointment("T-3", "Betriebsurlaub", dt.date(2026, 12, 24), dt.date(2027, 1, 2), all_day=True,
                employee_ids=("M-001",), cancelled=True),
    Appointment("T-4", "Früheste Zeit", dt.datetime(1601, 1, 1, 1, tzinfo=BERLIN),
                dt.datetime(1601, 1, 1, 2, tzinfo=BERLIN), timezone="Europe/Berlin", description="x\ny"),
    Appointment("T-5", "Anderswo", dt.datetime(2026, 5, 1, 8, tzinfo=ZoneInfo("America/New_York")),
                dt.datetime(2026, 5, 1, 9, tzinfo=ZoneInfo("America/New_York")), timezone="America/New_York"),
])
def test_appointment_round_trips_through_json(appointment):
    back = appointment_from(json.loads(json.dumps(appointment_record(appointment))))
    assert _same(back, appointment)
    assert back.start_utc() == appointment.start_utc()


def test_fold_is_kept_not_just_the_wall_time():
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = first.replace(fold=1)
    a, b = (Appointment("T", "t", s, s + dt.timedelta(hours=1)) for s in (first, second))
    assert appointment_from(appointment_record(a)).start_utc() != appointment_from(appointment_record(b)).start_utc()


def test_window_round_trips():
    window = Window(dt.datetime(2026, 3, 1, tzinfo=BERLIN), dt.datetime(2026, 3, 2, tzinfo=BERLIN))
    assert window_from(json.loads(json.dumps(window_record(window)))) == window
