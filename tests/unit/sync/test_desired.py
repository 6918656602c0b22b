"""Which events should exist: appointments in the window x mapped attendees, with every count."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from oh_outlook_provider.sync.desired import desired_state, events_for
from oh_outlook_provider.sync.models import Appointment, Rejected, Window
from oh_outlook_provider.sync.render import RenderOptions
from oh_outlook_provider.sync.selection import Selection
from oh_outlook_provider.sync.tags import EventKey

BERLIN = ZoneInfo("Europe/Berlin")
SOURCE = "openhandwerk:4711"
WINDOW = Window(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 8, tzinfo=dt.UTC))
MAPPING = {"M-1": "mailbox-1", "M-2": "mailbox-2"}


def appt(ident: str, day: int = 2, employees: tuple[str, ...] = ("M-1",), **kw) -> Appointment:
    start = dt.datetime(2026, 3, day, 8, tzinfo=BERLIN)
    return Appointment(ident, f"Termin {ident}", start, start + dt.timedelta(hours=1), employee_ids=employees, **kw)


def test_one_event_per_mapped_attendee_in_the_attendees_mailbox():
    pairs = events_for(appt("T-1", employees=("M-1", "M-2", "M-9")), MAPPING, SOURCE, RenderOptions())
    assert [(mailbox, event.key) for mailbox, event in pairs] == [
        ("mailbox-1", EventKey(SOURCE, "T-1", "M-1")), ("mailbox-2", EventKey(SOURCE, "T-1", "M-2"))]
    assert events_for(appt("T-2", cancelled=True), MAPPING, SOURCE, RenderOptions()) == []


def test_every_record_is_counted_once_in_exactly_one_place():
    records = [
        appt("in", employees=("M-1", "M-2")),
        appt("in", employees=("M-1", "M-2")),  # read twice (paging): counted once
        Appointment("early", "x", dt.datetime(2026, 2, 27, 8, tzinfo=BERLIN), dt.datetime(2026, 2, 27, 9, tzinfo=BERLIN),
                    employee_ids=("M-1",)),
        appt("cancelled", cancelled=True),
        appt("internal", category="Intern"),
        appt("nobody", employees=("M-9",)),
        Rejected("bad", "no start"),
        Appointment("odd", "x", dt.datetime(2026, 3, 3, 8, tzinfo=BERLIN), dt.date(2026, 3, 4), all_day=True,
                    employee_ids=("M-1",)),
    ]
    state = desired_state(records, MAPPING, WINDOW, SOURCE, RenderOptions(), Selection.of(exclude_categories=["intern"]))
    assert {m: [e.key.appointment_id for e in events] for m, events in state.by_mailbox.items()} == {
        "mailbox-1": ["in"], "mailbox-2": ["in"]}
    assert (state.appointments, state.cancelled, state.excluded, state.without_mapped_attendee,
            state.outside_window) == (5, 1, 1, 1, 1)
    assert [(r.record_id, r.reason) for r in state.rejected] == [
        ("bad", "no start"), ("odd", "all-day appointment with times of day")]


def test_the_window_is_half_open_on_the_start_instant():
    start = dt.datetime(2026, 3, 1, 1, tzinfo=BERLIN)  # 00:00 UTC: the window's first instant
    at_start = Appointment("a", "x", start, start + dt.timedelta(hours=1), employee_ids=("M-1",))
    at_end = Appointment("b", "x", start + dt.timedelta(days=7), start + dt.timedelta(days=7, hours=1),
                         employee_ids=("M-1",))
    state = desired_state([at_start, at_end], MAPPING, WINDOW, SOURCE, RenderOptions())
    assert [e.key.appointment_id for e in state.by_mailbox["mailbox-1"]] == ["a"] and state.outside_window == 1


def test_an_all_day_appointment_starts_at_local_midnight():
    day = Appointment("d", "Urlaub", dt.date(2026, 3, 1), dt.date(2026, 3, 2), all_day=True, employee_ids=("M-1",))
    state = desired_state([day], MAPPING, WINDOW, SOURCE, RenderOptions())
    assert state.outside_window == 1  # 1 March 00:00 in Berlin is 28 February 23:00 UTC, before the window


def test_a_part_left_out_of_a_record_is_reported_and_the_rest_synced():
    """Issue 21: `employees: [null, "M-1"]` syncs for M-1 and reports the dropped entry with the record id."""
    record = appt("T-7", employees=("M-1",), dropped=("employees entry 1 is a NoneType (None): left out",))
    state = desired_state([record], MAPPING, WINDOW, SOURCE, RenderOptions())
    assert [e.key for e in state.by_mailbox["mailbox-1"]] == [EventKey(SOURCE, "T-7", "M-1")]
    assert state.rejected == [Rejected("T-7", "employees entry 1 is a NoneType (None): left out")]
