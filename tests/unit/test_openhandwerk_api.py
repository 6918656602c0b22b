"""The tolerant record parser: plausible spellings accepted, bad records rejected with a reason."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.openhandwerk_api import parse_appointment, parse_employee, unwrap_page
from oh_outlook_provider.sync.models import Appointment, Rejected

BERLIN = ZoneInfo("Europe/Berlin")


def test_german_field_names_and_address_object():
    a = parse_appointment({"idTermin": 7, "titel": "Wartung Müller", "beginn": "2026-03-02 08:00", "ende": "2026-03-02 10:00",
                           "adresse": {"strasse": "Lindenstraße", "hausnummer": "5", "plz": "50667", "ort": "Köln"},
                           "kunde": {"name": "Familie Schröder"}, "mitarbeiter": [{"id": "M-1"}, "M-2", "M-1"],
                           "storniert": False})
    assert isinstance(a, Appointment)
    assert a.id == "7" and a.title == "Wartung Müller" and a.location == "Lindenstraße 5, 50667 Köln"
    assert a.customer == "Familie Schröder" and a.employee_ids == ("M-1", "M-2")
    assert a.start == dt.datetime(2026, 3, 2, 8, tzinfo=BERLIN)


def test_all_day_end_is_inclusive_in_openhandwerk_and_exclusive_here():
    a = parse_appointment({"id": "U", "title": "Urlaub", "start": "2026-03-02", "end": "2026-03-06", "allDay": True})
    assert (a.start, a.end, a.all_day) == (dt.date(2026, 3, 2), dt.date(2026, 3, 7), True)
    one = parse_appointment({"id": "U1", "title": "x", "start": "2026-03-02", "allDay": True})
    assert one.end == dt.date(2026, 3, 3)
    midnight = parse_appointment({"id": "U2", "title": "x", "start": "2026-03-02T00:00:00", "end": "2026-03-04T00:00:00",
                                  "allDay": True})
    assert midnight.end == dt.date(2026, 3, 4)


def test_offsets_are_converted_to_the_appointment_zone():
    a = parse_appointment({"id": "1", "title": "x", "start": "2026-03-02T07:00:00Z", "end": "2026-03-02T08:00:00+00:00"})
    assert a.start.hour == 8 and a.start.tzinfo.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": "no id"}, "without an id"),
        ({"id": "1", "title": "x"}, "no start date"),
        ({"id": "2", "title": "x", "start": "gestern", "end": "heute"}, "not an ISO date"),
        ({"id": "3", "title": "x", "start": "2026-03-02T10:00", "end": "2026-03-02T09:00"}, "is not after start"),
        ({"id": "4", "title": "x", "start": "2026-03-02T10:00"}, "no end time"),
        ({"id": "5", "title": "x", "start": "2026-03-02T10:00", "end": "2026-03-02T11:00", "timezone": "Mars/Olympus"},
         "unknown time zone"),
        ("just text", "not an object"),
    ],
)
def test_bad_records_are_rejected_with_reason(record, reason):
    result = parse_appointment(record)
    assert isinstance(result, Rejected) and reason in result.reason


def test_cancelled_by_status_word():
    assert parse_appointment({"id": "1", "title": "x", "start": "2026-03-02", "status": "storniert"}).cancelled


def test_employee_names_and_email():
    e = parse_employee({"idMitarbeiter": 3, "vorname": "Jörg", "nachname": "Schäfer", "eMail": " j@x.de "})
    assert (e.id, e.name, e.email, e.active) == ("3", "Jörg Schäfer", "j@x.de", True)
    assert isinstance(parse_employee({"name": "no id"}), Rejected)


def test_unwrap_page_variants():
    assert unwrap_page([1]) == [1] and unwrap_page({"items": [2]}) == [2]
    with pytest.raises(ValueError):
        unwrap_page({"nothing": 1})
