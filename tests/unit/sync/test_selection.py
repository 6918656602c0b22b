"""Which appointments go to Outlook: include / exclude by category and status (issue 14 item 4)."""

from __future__ import annotations

import datetime as dt

import pytest

from oh_outlook_provider.sync.desired import desired_state, events_for
from oh_outlook_provider.sync.models import Appointment, Window
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.selection import EVERYTHING, Selection

UTC = dt.UTC


def appt(i: int, category: str = "Wartung", status: str = "geplant", cancelled: bool = False) -> Appointment:
    start = dt.datetime(2026, 3, 2, 8, tzinfo=UTC) + dt.timedelta(hours=i)
    return Appointment(f"T-{i}", f"Termin {i}", start, start + dt.timedelta(hours=1), category=category, status=status,
                       employee_ids=("M-1",), cancelled=cancelled)


@pytest.mark.parametrize(("selection", "appointment", "reason"), [
    (EVERYTHING, appt(1), None),
    (EVERYTHING, appt(1, cancelled=True), "cancelled"),
    (Selection.of(include_categories=["Urlaub"]), appt(1, cancelled=True), "cancelled"),
    (Selection.of(exclude_categories=[" intern "]), appt(1, "Intern"), "category 'Intern' is excluded"),
    (Selection.of(include_categories=["Baustelle", "Wartung"]), appt(1, "wartung"), None),
    (Selection.of(include_categories=["Baustelle"]), appt(1, "Wartung"), "category 'Wartung' is not included"),
    (Selection.of(include_categories=[]), appt(1), "category 'Wartung' is not included"),
    (Selection.of(exclude_statuses=["Angebot"]), appt(1, status="ANGEBOT"), "status 'ANGEBOT' is excluded"),
    (Selection.of(include_statuses=["bestätigt"]), appt(1, status="geplant"), "status 'geplant' is not included"),
    (Selection.of(include_statuses=["bestätigt"]), appt(1, status="Bestätigt"), None),
])
def test_reasons(selection, appointment, reason):
    assert selection.reason(appointment) == reason


def test_an_excluded_appointment_is_counted_and_has_no_event_like_a_cancelled_one():
    window = Window(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC))
    records = [appt(1), appt(2, "Intern"), appt(3, cancelled=True), appt(4, status="Angebot")]
    selection = Selection.of(exclude_categories=["Intern"], exclude_statuses=["Angebot"])
    state = desired_state(records, {"M-1": "u1"}, window, "s", RenderOptions(), selection)
    assert (state.appointments, state.cancelled, state.excluded) == (4, 1, 2)
    assert [e.key.appointment_id for e in state.by_mailbox["u1"]] == ["T-1"]
    # the path that decides about events outside the window's desired set agrees
    assert events_for(appt(2, "Intern"), {"M-1": "u1"}, "s", RenderOptions(), selection=selection) == []
    assert len(events_for(appt(2, "Intern"), {"M-1": "u1"}, "s", RenderOptions())) == 1
