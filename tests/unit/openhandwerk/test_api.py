"""The tolerant record parser: plausible spellings accepted, bad records rejected with a reason."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from oh_outlook_provider.openhandwerk.api import parse_appointment, parse_employee, unwrap_page
from oh_outlook_provider.sync.models import Appointment, PostalAddress, Rejected

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


TIMED = {"id": "A", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00"}


@pytest.mark.parametrize(("fields", "line", "address"), [
    ({"address": {"street": "Hauptstraße", "houseNumber": 5, "zip": 50667, "city": "Köln"}},
     "Hauptstraße 5, 50667 Köln", PostalAddress("Hauptstraße 5", "50667", "Köln")),
    ({"adresse": {"name": "Kita Sonnenschein", "strasse": "Am Bach 3", "postleitzahl": "53111", "stadt": "Bonn",
                  "land": "Deutschland"}},
     "Kita Sonnenschein, Am Bach 3, 53111 Bonn", PostalAddress("Am Bach 3", "53111", "Bonn", "Deutschland")),
    ({"location": {"addressLine": "Ring 1", "postalCode": "1010", "city": "Wien", "countryCode": "AT"}},
     "Ring 1, 1010 Wien, AT", PostalAddress("Ring 1", "1010", "Wien", "AT")),
    # the parts on the record itself; "ort" there is the city
    ({"strasse": "Gartenweg 2", "plz": "41460", "ort": "Neuss"}, "Gartenweg 2, 41460 Neuss",
     PostalAddress("Gartenweg 2", "41460", "Neuss")),
    # too few parts to find the place, or free text: a line only
    ({"address": {"city": "Köln"}}, "Köln", None),
    ({"address": {"street": "Hauptstraße 5"}}, "Hauptstraße 5", None),
    ({"einsatzort": "Baustelle Müller, hinterm Bahnhof"}, "Baustelle Müller, hinterm Bahnhof", None),
    ({"address": ["Hauptstr. 5", "50667 Köln"]}, "Hauptstr. 5, 50667 Köln", None),
])
def test_address_shapes(fields, line, address):
    a = parse_appointment(TIMED | fields)
    assert (a.location, a.address) == (line, address)


def test_status_is_kept_as_written_for_the_filters():
    a = parse_appointment(TIMED | {"status": " Angebot "})
    assert (a.status, a.cancelled) == ("Angebot", False)


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
        ({"id": "3", "title": "x", "start": "2026-03-02T10:00", "end": "2026-03-02T09:00"}, "is before start"),
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


# ---------------------------------------------------------------- hostile records (issue 11, items 1, 2, 13)
@pytest.mark.parametrize("employees, reason", [
    (1.5, "employees is a float (1.5)"),
    ({"id": "M-1"}, "employees is a dict"),
])
def test_employees_that_are_no_list_reject_the_record_with_the_reason(employees, reason):
    r = parse_appointment({"id": "T-9", "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00",
                           "employees": employees})
    assert isinstance(r, Rejected) and r.record_id == "T-9" and reason in r.reason


@pytest.mark.parametrize("bad, reason", [
    (None, "employees entry 1 is a NoneType (None)"),
    (["M-9"], "employees entry 1 is a list"),
    (True, "employees entry 1 is a bool"),
    ({"name": "Jan"}, "employees entry 1 without an id"),
    ({"id": 1.5}, "employees entry 1 id is a float"),
])
def test_an_entry_of_the_employee_list_that_names_no_one_is_left_out_and_reported(bad, reason):
    """Issue 21: `employees: [null, "M-001"]` rejected the whole appointment, so M-001 never got it."""
    a = parse_appointment({"id": "T-9", "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00",
                           "employees": [bad, "M-001", {"id": "M-002"}]})
    assert isinstance(a, Appointment) and a.employee_ids == ("M-001", "M-002")
    [part] = a.dropped_parts()
    assert part.record_id == "T-9" and reason in part.reason and "left out" in part.reason


def test_zero_length_appointments_are_kept():
    """Issue 21: a call-back at 10:00 (end == start) was rejected; Graph and Outlook keep it."""
    a = parse_appointment({"id": "R", "title": "Rückruf", "start": "2026-03-02T10:00", "end": "2026-03-02T10:00"})
    assert isinstance(a, Appointment) and a.start == a.end == dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)


@pytest.mark.parametrize("start, end", [
    ("0001-01-01T00:30:00", "0001-01-01T01:30:00"),
    ("9999-12-31T23:00:00", "9999-12-31T23:30:00"),
    ("9999-12-31", None),
    ("1600-12-31", "1600-12-31"),
    ("4501-01-01T08:00:00", "4501-01-01T09:00:00"),
])
def test_dates_outlook_cannot_store_are_rejected_not_raised(start, end):
    r = parse_appointment({"id": "T-Y", "title": "x", "start": start, "end": end})
    assert isinstance(r, Rejected) and r.record_id == "T-Y" and "outside the dates Outlook can store" in r.reason


def test_the_edges_of_outlooks_range_are_accepted():
    first = parse_appointment({"id": "a", "title": "x", "start": "1601-01-01T08:00", "end": "1601-01-01T09:00"})
    last = parse_appointment({"id": "b", "title": "x", "start": "4500-12-31", "allDay": True})
    assert isinstance(first, Appointment) and isinstance(last, Appointment)
    assert last.end == dt.date(4501, 1, 1)


@pytest.mark.parametrize("ident, reason", [
    (1.5, "appointment id is a float"), (True, "appointment id is a bool"), (["x"], "appointment id is a list"),
    ("T\n1", "holds control characters"), ("x" * 201, "longer than 200"),
])
def test_ids_no_one_could_look_up_are_rejected_with_the_reason(ident, reason):
    r = parse_appointment({"id": ident, "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00"})
    assert isinstance(r, Rejected) and reason in r.reason


def test_any_printable_id_is_kept_as_written():
    ident = "T-FZ|17 / ?#%&'\"<>ü"
    a = parse_appointment({"id": ident, "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00"})
    assert a.id == ident


def test_all_day_with_an_offset_keeps_the_calendar_day_as_written():
    a = parse_appointment({"id": "U", "title": "Urlaub", "start": "2026-03-20T00:00:00+05:00",
                           "end": "2026-03-20T00:00:00+05:00", "allDay": True})
    assert (a.start, a.end) == (dt.date(2026, 3, 20), dt.date(2026, 3, 21))


def test_a_start_in_the_spring_forward_gap_moves_forward_and_a_valid_end_stays():
    # 29 March 2026, Berlin: 02:00 -> 03:00. Outlook moves a 02:30 start to 03:30.
    a = parse_appointment({"id": "S", "title": "x", "start": "2026-03-29T02:30:00", "end": "2026-03-29T03:30:00"})
    assert isinstance(a, Appointment)
    assert a.start == dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    assert a.end == dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)  # 03:30 exists: it stays (zero length)
    assert a.start_utc() == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)


def test_a_valid_end_is_not_moved_when_the_start_falls_in_the_gap():
    """Issue 21: 02:30-04:00 became 03:30-05:00 CEST, although 04:00 exists and openHandwerk said it."""
    a = parse_appointment({"id": "S", "title": "x", "start": "2026-03-29T02:30:00", "end": "2026-03-29T04:00:00"})
    assert (a.start, a.end) == (dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN), dt.datetime(2026, 3, 29, 4, tzinfo=BERLIN))
    assert a.end.utcoffset() == dt.timedelta(hours=2)  # 04:00 CEST


@pytest.mark.parametrize("end, moved_end", [
    ("2026-03-29T02:45:00", dt.datetime(2026, 3, 29, 3, 45)),  # in the gap too: moved by the gap
    ("2026-03-29T03:15:00", dt.datetime(2026, 3, 29, 4, 15)),  # before the moved start: keeps the length
])
def test_an_end_moves_only_when_it_does_not_exist_or_would_fall_before_the_start(end, moved_end):
    a = parse_appointment({"id": "S", "title": "x", "start": "2026-03-29T02:30:00", "end": end})
    assert a.end == moved_end.replace(tzinfo=BERLIN) and a.end >= a.start


def test_the_repeated_autumn_hour_keeps_which_occurrence_was_meant():
    second = parse_appointment({"id": "F", "title": "x", "start": "2026-10-25T02:30:00+01:00",
                                "end": "2026-10-25T03:30:00+01:00"})
    first = parse_appointment({"id": "G", "title": "x", "start": "2026-10-25T02:30:00", "end": "2026-10-25T03:00:00"})
    assert second.start_utc() == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    assert first.start_utc() == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # a wall time means the first one


def test_a_wrong_zone_name_is_rejected_with_the_reason():
    r = parse_appointment({"id": "Z", "title": "x", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00",
                           "timezone": "Mars/Olympus"})
    assert isinstance(r, Rejected) and "unknown time zone 'Mars/Olympus'" in r.reason


def test_a_record_whose_id_is_a_question_mark_is_read_not_rejected_without_reason():
    """Found by the fuzz test: the id "?" was taken for "no id" and rejected with an empty reason."""
    from oh_outlook_provider.openhandwerk.api import parse_appointment, parse_employee

    result = parse_appointment({"id": "?"}, "Europe/Berlin")
    assert result.record_id == "?" and result.reason and "start" in result.reason.lower()
    employee = parse_employee({"id": "?", "email": "a@example.com", "firstName": "A", "lastName": "B"})
    assert getattr(employee, "id", None) == "?" or employee.reason


@pytest.mark.parametrize(("record", "german"), [
    ({"title": "x"}, "Termin: keine ID (erwartet wird eines dieser Felder: id, appointmentId, idTermin, terminId)"),
    ({"id": "T1", "title": "x"}, "kein Beginn (Startdatum fehlt)"),
    ({"id": "T2", "start": "2026-03-01T10:00", "end": "2026-03-01T09:00"},
     "das Ende 2026-03-01T09:00:00+01:00 liegt vor dem Beginn 2026-03-01T10:00:00+01:00"),
    ({"id": "T3", "start": "morgen"}, "Beginn 'morgen' ist weder ein Datum noch ein Datum mit Uhrzeit im ISO-Format"),
    ({"id": "T4", "start": "2026-03-01T10:00", "end": "2026-03-01T11:00", "employees": 1.5},
     "die Mitarbeiterliste (employees) ist vom Typ float (1.5), erwartet wird eine Liste von Mitarbeiter-IDs"),
    ([1], "der Termindatensatz ist vom Typ list, kein Objekt"),
])
def test_a_rejected_appointment_gives_its_reason_in_the_admins_language(record, german):
    from oh_outlook_provider.i18n import speaking

    with speaking("de"):
        assert parse_appointment(record).reason == german
    assert parse_appointment(record).reason != german  # the tests' setting (English) counts again


def test_an_employee_entry_left_out_says_why_in_german_and_english_alike():
    from oh_outlook_provider.i18n import speaking

    record = {"id": "T5", "start": "2026-03-01T10:00", "end": "2026-03-01T11:00", "employees": [None, "M1", {"name": "x"}]}
    with speaking("de"):
        german = parse_appointment(record).dropped
    english = parse_appointment(record).dropped
    assert german == ("Eintrag 1 der Mitarbeiterliste ist vom Typ NoneType (None), erwartet wird eine Mitarbeiter-ID "
                      "– weggelassen; der Termin wird für die übrigen Mitarbeiter synchronisiert",
                      "Eintrag 3 der Mitarbeiterliste: keine ID (erwartet wird eines dieser Felder: id, employeeId, "
                      "idMitarbeiter, mitarbeiterId) – weggelassen; der Termin wird für die übrigen Mitarbeiter "
                      "synchronisiert")
    assert english == ("employees entry 1 is a NoneType (None), expected an employee id: left out, the appointment is "
                       "synced for the other employees",
                       "employees entry 3 without an id (expected one of id, employeeId, idMitarbeiter, mitarbeiterId): "
                       "left out, the appointment is synced for the other employees")
    with speaking("de"):
        assert parse_employee({"name": "x"}).reason.startswith("Mitarbeiter: keine ID")


def test_a_valid_record_is_read_without_asking_for_the_language(monkeypatch):
    """Messages are translated only for a record that has a problem: each reads the language setting
    (Airflow's configuration), which 100,000 valid appointments a run must not pay for."""
    from oh_outlook_provider.i18n import language

    def asked() -> str:
        raise AssertionError("the language was asked for a valid record")

    monkeypatch.setattr(language, "current_language", asked)
    record = {"id": "T1", "title": "Wartung", "start": "2026-03-02T08:00", "end": "2026-03-02T09:00",
              "employees": [{"id": "M1"}, "M2"], "address": {"street": "Hauptstraße", "zip": "50667", "city": "Köln"}}
    assert isinstance(parse_appointment(record), Appointment)
    assert parse_employee({"id": "M1", "name": "Jan"}).id == "M1"
